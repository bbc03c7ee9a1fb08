use super::*;
use clap::CommandFactory;

fn parse(args: &str) -> Result<Cli, clap::Error> {
    Cli::try_parse_from(std::iter::once("tcpterm").chain(args.split_whitespace()))
}

fn serve(args: &str) -> ServeArgs {
    match parse(&format!("serve {args}")).unwrap().command {
        Command::Serve(s) => *s,
        other => panic!("{other:?}"),
    }
}

fn config(args: &str) -> Result<ServeConfig, ConfigError> {
    serve(args).config()
}

const BASE: &str = "--ip 198.18.0.1/24 --listen 80=http";

#[test]
fn clap_definition_is_consistent() {
    Cli::command().debug_assert();
}

#[test]
fn the_issue_example_parses_with_eal_args_passed_through() {
    let c = config(
        "--ip 198.18.0.1/24 --listen 80=http --listen 7=echo -- --no-huge --vdev net_tap0 -l 0-1",
    )
    .unwrap();
    assert_eq!(c.engine.ip, Ipv4Addr::new(198, 18, 0, 1));
    assert_eq!(c.engine.prefix_len, 24);
    assert_eq!(
        c.listeners,
        Listeners(vec![(80, AppKind::Http), (7, AppKind::Echo)])
    );
    assert_eq!(c.eal_args, ["--no-huge", "--vdev", "net_tap0", "-l", "0-1"]);
    assert_eq!(c.workers(), 1);
    assert_eq!(c.cores, None);
}

#[test]
fn defaults_follow_linux_and_the_issue() {
    let c = config(BASE).unwrap();
    let t = &c.engine.tcp;
    assert_eq!(t.msl, Duration::from_millis(30_000));
    assert_eq!(t.keepalive, None);
    assert_eq!(t.syncookies, SynCookiePolicy::Auto);
    assert_eq!(t.cc, CcKind::Cubic);
    assert_eq!(t.rx_buf, 256 * 1024);
    assert_eq!(t.mss, 1460);
    assert!(!t.nagle);
    assert_eq!(t.delayed_ack, Duration::from_millis(40));
    assert_eq!(c.http.body_size, 128);
    assert_eq!(c.http.max_head, 8192);
    assert_eq!(c.summary_interval, Some(Duration::from_secs(1)));
    assert_eq!(c.engine.gateway, None);
}

#[test]
fn every_tunable_reaches_the_tcp_config() {
    let c = config(&format!(
        "{BASE} --msl-ms 1000 --fin-timeout-ms 2000 --keepalive-ms 3000 --keepalive-intvl-ms 500 \
         --keepalive-probes 3 --syncookies always --syn-backlog 64 --max-conns 1000 \
         --rto-min-ms 50 --retries 4 --synack-retries 2 --cc newreno --rx-buf 64k --tx-buf 1m \
         --nagle --delayed-ack-ms 0 --mtu 9000 --seed 7 --summary-interval-ms 0 \
         --shutdown-timeout-ms 100 --http-body-size 1k --cores 1-3 --gateway 198.18.0.254"
    ))
    .unwrap();
    let t = &c.engine.tcp;
    assert_eq!(t.msl, Duration::from_secs(1));
    assert_eq!(t.fin_timeout, Duration::from_secs(2));
    assert_eq!(
        t.keepalive,
        Some(Keepalive {
            idle: Duration::from_secs(3),
            interval: Duration::from_millis(500),
            probes: 3
        })
    );
    assert_eq!(t.syncookies, SynCookiePolicy::Always);
    assert_eq!((t.syn_backlog, t.max_conns), (64, 1000));
    assert_eq!(t.rto_min, Duration::from_millis(50));
    assert_eq!((t.retries, t.synack_retries), (4, 2));
    assert_eq!(t.cc, CcKind::NewReno);
    assert_eq!((t.rx_buf, t.tx_buf), (64 << 10, 1 << 20));
    assert!(t.nagle);
    assert_eq!(t.delayed_ack, Duration::ZERO);
    assert_eq!((c.engine.mtu, t.mss), (9000, 8960));
    assert_eq!(c.engine.seed, 7);
    assert_eq!(c.summary_interval, None);
    assert_eq!(c.shutdown_timeout, Duration::from_millis(100));
    assert_eq!(c.http.body_size, 1024);
    assert_eq!(c.cores, Some(vec![1, 2, 3]));
    assert_eq!(c.workers(), 3);
    assert_eq!(c.engine.gateway, Some(Ipv4Addr::new(198, 18, 0, 254)));
}

#[test]
fn bad_configurations_give_one_line_errors() {
    let cases: &[(&str, &str)] = &[
        ("--ip 198.18.0.1/24", "nothing to serve: add --listen PORT=APP (e.g. --listen 80=http)"),
        (
            "--ip 198.18.0.1/24 --listen 80=http --listen 80=echo",
            "port 80 is given twice in --listen; each port serves one app",
        ),
        (
            "--ip 0.0.0.0/24 --listen 80=http",
            "--ip 0.0.0.0/24 is not a usable host address (pick a unicast address inside the prefix)",
        ),
        (
            "--ip 198.18.0.0/24 --listen 80=http",
            "--ip 198.18.0.0/24 is not a usable host address (pick a unicast address inside the prefix)",
        ),
        (
            "--ip 198.18.0.255/24 --listen 80=http",
            "--ip 198.18.0.255/24 is not a usable host address (pick a unicast address inside the prefix)",
        ),
        (
            "--ip 224.0.0.1/24 --listen 80=http",
            "--ip 224.0.0.1/24 is not a usable host address (pick a unicast address inside the prefix)",
        ),
        (
            &format!("{BASE} --gateway 10.0.0.1"),
            "--gateway 10.0.0.1 is not inside 198.18.0.0/24 (from --ip); pick a next hop on the local network",
        ),
        (&format!("{BASE} --gateway 198.18.0.1"), "--gateway 198.18.0.1 is our own address; give the router's address"),
        (&format!("{BASE} --mtu 100"), "--mtu 100 is out of range: use 576 to 9000"),
        (&format!("{BASE} --cores 1,2,1"), "core 1 is given twice in --cores"),
        (&format!("{BASE} --http-body-size 32m"), "--http-body-size 33554432 is too large (at most 16 MiB)"),
        (&format!("{BASE} --http-max-header 10"), "--http-max-header 10 must be between 256 bytes and 1 MiB"),
        (&format!("{BASE} --rx-desc 1000"), "--rx-desc must be a power of two from 64 to 32768"),
        (&format!("{BASE} --msl-ms 0"), "invalid TCP settings: msl must be greater than zero"),
        (&format!("{BASE} --rx-buf 1k"), "invalid TCP settings: rx-buf must be between 2048 and 1 GiB"),
        (
            &format!("{BASE} --delayed-ack-ms 600"),
            "invalid TCP settings: delayed-ack must be at most 500 ms (RFC 1122)",
        ),
        (
            &format!("{BASE} --syn-backlog 0"),
            "invalid TCP settings: syn-backlog and max-conns must be greater than zero",
        ),
        (
            &format!("{BASE} --keepalive-ms 1000 --keepalive-probes 0"),
            "invalid TCP settings: keepalive idle, interval and probes must be greater than zero",
        ),
    ];
    for (args, want) in cases {
        let err = config(args).expect_err(args).to_string();
        assert_eq!(&err, want, "{args}");
        assert!(!err.contains('\n'));
    }
}

#[test]
fn syntax_errors_are_caught_by_the_parser_with_a_hint() {
    for (args, hint) in [
        ("serve --ip 198.18.0.1 --listen 80=http", "missing /PREFIX"),
        (
            "serve --ip 198.18.0.1/33 --listen 80=http",
            "must be 0..=32",
        ),
        (
            "serve --ip 300.1.1.1/24 --listen 80=http",
            "is not an IPv4 address",
        ),
        ("serve --ip 198.18.0.1/24 --listen 80", "expected PORT=APP"),
        (
            "serve --ip 198.18.0.1/24 --listen 0=http",
            "from 1 to 65535",
        ),
        (
            "serve --ip 198.18.0.1/24 --listen 80=ftp",
            "available: echo, discard, http",
        ),
        (
            "serve --ip 198.18.0.1/24 --listen 80=http --cc vegas",
            "expected newreno, cubic or bbr",
        ),
        (
            "serve --ip 198.18.0.1/24 --listen 80=http --syncookies maybe",
            "expected auto, always or never",
        ),
        (
            "serve --ip 198.18.0.1/24 --listen 80=http --cores 1,x",
            "is not a core number",
        ),
        (
            "serve --ip 198.18.0.1/24 --listen 80=http --rx-buf 12q",
            "unknown size unit",
        ),
        ("serve --listen 80=http", "--ip"),
    ] {
        let err = parse(args).expect_err(args).to_string();
        assert!(err.contains(hint), "{args}: {err}");
    }
}

#[test]
fn sizes_and_core_lists_parse() {
    assert_eq!(parse_size("4096"), Ok(4096));
    assert_eq!(parse_size("256k"), Ok(256 << 10));
    assert_eq!(parse_size("256KiB"), Ok(256 << 10));
    assert_eq!(parse_size("2M"), Ok(2 << 20));
    assert_eq!(parse_size("1g"), Ok(1 << 30));
    assert!(parse_size("k").is_err());
    assert!(parse_size("99999999999999999999g").is_err());
    assert_eq!(parse_cores("1,2,3"), Ok(vec![1, 2, 3]));
    assert_eq!(parse_cores("0,4-6"), Ok(vec![0, 4, 5, 6]));
    assert!(parse_cores("3-1").is_err());
    assert!(parse_cores("").is_err());
}

#[test]
fn empty_cores_list_is_refused() {
    let mut s = serve(BASE);
    s.workers.cores = Some(CoreList(vec![]));
    assert_eq!(s.config().unwrap_err(), ConfigError::NoCores);
}

#[test]
fn stat_options_parse() {
    let Command::Stat(s) = parse("stat --json --watch").unwrap().command else {
        panic!()
    };
    assert!(s.json);
    assert_eq!(s.watch, Some(1.0));
    let Command::Stat(s) = parse("stat --watch 2.5 --control-socket /tmp/x.sock")
        .unwrap()
        .command
    else {
        panic!()
    };
    assert_eq!(s.watch, Some(2.5));
    assert_eq!(s.control_socket, PathBuf::from("/tmp/x.sock"));
    let Command::Stat(s) = parse("stat").unwrap().command else {
        panic!()
    };
    assert_eq!(s.watch, None);
    assert_eq!(s.control_socket, default_control_socket());
}

#[test]
fn help_shows_defaults() {
    let help = Cli::command()
        .find_subcommand_mut("serve")
        .unwrap()
        .render_long_help()
        .to_string();
    for needle in [
        "[default: 30000]",
        "[default: auto]",
        "[default: cubic]",
        "[default: 256k]",
        "[default: 128]",
        "[default: 1000]",
        "EAL",
    ] {
        assert!(help.contains(needle), "{needle} missing from:\n{help}");
    }
}
