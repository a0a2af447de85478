//! `up`'s schedule, derived from the service table (`table::waves`): a service starts as soon as
//! every service in its `after` is ready, each in a thread of its own. Services that wait for nothing start
//! together (db, registry and client), then whatever waited only for those (the signer), and so
//! on: the waves. A service never starts before what it needs is ready, so readiness stays what
//! each probe proves (the server is ready only once it fetched a key through the signer).
//! The critical path is the chain the last service to become ready waited along.

use std::collections::BTreeMap;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use anyhow::Result;

use crate::table::waves::plan;
use crate::table::{Service, Spec};

/// When one service was started and when it was ready, from the start of the schedule.
#[derive(Debug, Clone, PartialEq)]
pub struct Timing {
    pub service: String,
    pub start: Duration,
    pub ready: Duration,
}

impl Timing {
    pub fn took(&self) -> Duration {
        self.ready.saturating_sub(self.start)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Waiting,
    Ready,
    Failed,
    /// Never started: something failed before what it waits for was ready.
    Skipped,
}

/// Runs `start` (start the service, wait until it is ready) for every service of `spec`, each in
/// its own thread once everything in its `after` is ready. After a failure nothing more starts;
/// the services already starting finish, and the first error is returned. On success, every
/// service's timing in table order.
pub fn run<F>(spec: &Spec, start: F) -> Result<Vec<Timing>>
where
    F: Fn(&Service) -> Result<()> + Sync,
{
    plan(spec)?;
    let t0 = Instant::now();
    let states: Mutex<BTreeMap<&str, State>> =
        Mutex::new(spec.services.iter().map(|s| (s.name.as_str(), State::Waiting)).collect());
    let changed = Condvar::new();
    let errors: Mutex<Vec<anyhow::Error>> = Mutex::new(Vec::new());
    let timings: Mutex<Vec<Timing>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for svc in &spec.services {
            let (states, changed, errors, timings, start) = (&states, &changed, &errors, &timings, &start);
            scope.spawn(move || {
                let go = {
                    let mut st = states.lock().expect("not poisoned");
                    loop {
                        if st.values().any(|s| *s == State::Failed) {
                            break false;
                        }
                        let deps: Vec<State> = svc.after.iter().map(|a| st[a.as_str()]).collect();
                        if deps.contains(&State::Skipped) {
                            break false;
                        }
                        if deps.iter().all(|s| *s == State::Ready) {
                            break true;
                        }
                        st = changed.wait(st).expect("not poisoned");
                    }
                };
                let begun = t0.elapsed();
                let outcome = if go { Some(start(svc)) } else { None };
                let state = match outcome {
                    Some(Ok(())) => {
                        let ready = t0.elapsed();
                        timings.lock().expect("not poisoned").push(Timing {
                            service: svc.name.clone(),
                            start: begun,
                            ready,
                        });
                        State::Ready
                    }
                    Some(Err(e)) => {
                        errors.lock().expect("not poisoned").push(e);
                        State::Failed
                    }
                    None => State::Skipped,
                };
                states.lock().expect("not poisoned").insert(svc.name.as_str(), state);
                changed.notify_all();
            });
        }
    });
    if let Some(e) = errors.into_inner().expect("not poisoned").into_iter().next() {
        return Err(e);
    }
    let mut timings = timings.into_inner().expect("not poisoned");
    timings.sort_by_key(|t| spec.services.iter().position(|s| s.name == t.service));
    Ok(timings)
}

/// The chain that decided the total: from the service ready last, back through the `after`
/// service each one waited for longest (the one ready last), first service first.
pub fn critical_path<'a>(spec: &Spec, timings: &'a [Timing]) -> Vec<&'a Timing> {
    let find = |name: &str| timings.iter().find(|t| t.service == name);
    let mut path = Vec::new();
    let mut at = timings.iter().max_by_key(|t| t.ready);
    while let Some(t) = at {
        path.push(t);
        let after = spec.service(&t.service).map(|s| s.after.as_slice()).unwrap_or_default();
        at = after.iter().filter_map(|a| find(a)).max_by_key(|d| d.ready);
    }
    path.reverse();
    path
}

/// `db 1.10 s → notarysigner 0.35 s → notaryserver 0.60 s`.
pub fn describe_path(path: &[&Timing]) -> String {
    path.iter().map(|t| format!("{} {:.2} s", t.service, t.took().as_secs_f64())).collect::<Vec<_>>().join(" → ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::bail;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn a_service_starts_only_after_what_it_waits_for_and_the_rest_run_together() {
        let spec = crate::table::load().unwrap();
        let running = AtomicUsize::new(0);
        let most = AtomicUsize::new(0);
        let order = Mutex::new(Vec::new());
        let timings = run(&spec, |svc| {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            most.fetch_max(now, Ordering::SeqCst);
            order.lock().unwrap().push(format!("start {}", svc.name));
            std::thread::sleep(Duration::from_millis(if svc.name == "db" { 150 } else { 60 }));
            order.lock().unwrap().push(format!("ready {}", svc.name));
            running.fetch_sub(1, Ordering::SeqCst);
            Ok(())
        })
        .unwrap();
        let order = order.into_inner().unwrap();
        let at = |e: &str| order.iter().position(|x| x == e).unwrap();
        assert!(at("ready db") < at("start notarysigner"), "{order:?}");
        assert!(at("ready notarysigner") < at("start notaryserver"), "{order:?}");
        assert_eq!(most.load(Ordering::SeqCst), 3, "db, registry and client together: {order:?}");
        assert_eq!(timings.iter().map(|t| t.service.as_str()).collect::<Vec<_>>(), spec.service_names());
        let path = critical_path(&spec, &timings);
        let chain: Vec<&str> = path.iter().map(|t| t.service.as_str()).collect();
        assert_eq!(chain, ["db", "notarysigner", "notaryserver"]);
        assert!(describe_path(&path).starts_with("db 0.1"), "{}", describe_path(&path));
    }

    #[test]
    fn after_a_failure_nothing_more_starts_and_the_error_is_returned() {
        let spec = crate::table::load().unwrap();
        let started = Mutex::new(Vec::new());
        let err = run(&spec, |svc| {
            started.lock().unwrap().push(svc.name.clone());
            if svc.name == "db" {
                bail!("db broke");
            }
            Ok(())
        })
        .unwrap_err();
        assert_eq!(err.to_string(), "db broke");
        let started = started.into_inner().unwrap();
        assert!(!started.contains(&"notarysigner".to_string()) && !started.contains(&"notaryserver".to_string()));
    }
}
