fn main() {
    eprintln!("tcpterm: not built yet");
    std::process::exit(2);
}
