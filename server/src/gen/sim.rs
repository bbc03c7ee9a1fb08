//! Runs the generator on engine `a` of an in-memory [`Pair`] (engine `b` is the server under
//! test), with the same driver the DPDK worker uses. Time jumps to the next thing that is due,
//! so a 2-second scenario runs in milliseconds and exactly the same way every time.

use super::app::GenApp;
use super::driver::Driver;
use super::report::{take_report, PhaseDelta};
use stack::sim::Pair;
use stack::{App, Instant};
use std::time::Duration;

/// Steps the pair until the driver is done or `limit` of simulated time passed. Returns each
/// phase's results (counts and histograms, as a worker would report them).
pub fn run<B: App>(
    pair: &mut Pair<GenApp, B>,
    driver: &mut Driver,
    limit: Duration,
) -> Vec<PhaseDelta> {
    let end = pair.now + limit;
    while !driver.is_done() && pair.now <= end {
        pair.a.app_mut().now = pair.now;
        pair.deliver_due();
        pair.with_a(|e, now, tx| driver.tick(std::slice::from_mut(e), now, tx));
        pair.deliver_due();
        let next = [
            pair.next_event(),
            driver.next_wake(std::slice::from_ref(&pair.a)),
        ]
        .into_iter()
        .flatten()
        .min();
        pair.now = match next {
            Some(t) if t > pair.now => t,
            Some(_) => pair.now + Duration::from_micros(1),
            None => break,
        };
    }
    // What the last iteration sent (closes, resets) still reaches the server.
    pair.deliver_due();
    let settle = pair.now + Duration::from_secs(1);
    pair.run_until(settle, |p| p.ab.in_flight() == 0 && p.ba.in_flight() == 0);
    take_report(0, std::slice::from_mut(&mut pair.a))
}

/// Simulated time now (for tests that check durations).
pub fn now<B: App>(pair: &Pair<GenApp, B>) -> Instant {
    pair.now
}
