//! How every model runs: loom's exploration of thread schedules, times the
//! model's time-dependent choices (`pysync::loom_support::explore`), so that
//! both answers of "is this waiter's fairness deadline due?" are explored at
//! every slow release. Time is the model's: no model reads the wall clock,
//! and a timed wait times out only where loom schedules it.

use std::sync::Arc;

/// How many time-dependent choices per execution are explored both ways
/// (later ones answer "not due").
const CHOICES: u32 = 3;

/// Runs `f` as a loom model at the preemption bound of the environment
/// (`LOOM_MAX_PREEMPTIONS`; CI uses 3), under every script of choices.
pub fn model<F>(f: F)
where
    F: Fn() + Sync + Send + 'static,
{
    let f = Arc::new(f);
    pysync::loom_support::explore(CHOICES, || {
        let f = Arc::clone(&f);
        loom::model(move || f())
    });
}

#[allow(dead_code)] // used by the models that need it
/// Like [`model`], at a preemption bound of at least 5
/// (`LOOM_DEEP_PREEMPTIONS` overrides): for the small models of races that
/// need more preemptions to reach than the suite's default.
pub fn deep_model<F>(f: F)
where
    F: Fn() + Sync + Send + 'static,
{
    model_at_bound("LOOM_DEEP_PREEMPTIONS", 5, f);
}

#[allow(dead_code)] // used by the models that need it
/// Like [`model`], at a preemption bound of 2 (`LOOM_SHALLOW_PREEMPTIONS`
/// overrides): for the models in which several threads loop (trading a
/// lock until some thread is served), whose state space at bound 3 takes
/// loom more than ten minutes. Switches at blocking points and yields stay
/// free and unbounded: only preemptions in the middle of a step are capped.
pub fn shallow_model<F>(f: F)
where
    F: Fn() + Sync + Send + 'static,
{
    model_at_bound("LOOM_SHALLOW_PREEMPTIONS", 2, f);
}

/// [`model`] at the preemption bound the environment variable `var` names,
/// `default` if unset.
#[allow(dead_code)] // used by the models that need it
fn model_at_bound<F>(var: &str, default: usize, f: F)
where
    F: Fn() + Sync + Send + 'static,
{
    let bound = std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    let f = Arc::new(f);
    pysync::loom_support::explore(CHOICES, || {
        let f = Arc::clone(&f);
        let mut builder = loom::model::Builder::new();
        builder.preemption_bound = Some(bound);
        builder.check(move || f())
    });
}
