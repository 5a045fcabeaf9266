//! `ward hashers argon2 calibrate`: argon2id parameters that take about a target duration on
//! this machine. Memory and parallelism stay as given (memory is what bounds a flood of
//! sign-ins); iterations grow until one hash takes the target. Only when a single iteration is
//! already too slow does memory shrink, never below OWASP's 19 MiB floor for t=2.

use std::time::{Duration, Instant};

use argon2::{Algorithm, Block, Params, Version};

use super::argon2_into;

/// Below this much memory (KiB) argon2id needs more iterations than calibration would pick
/// (OWASP: 19 MiB with t=2, 12 MiB with t=3, ...); calibration does not go lower.
const MIN_MEMORY_KIB: u32 = 19 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Calibrated {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
    /// The median time of one hash with these parameters.
    pub duration: Duration,
}

/// Searches parameters with `measure` timing one hash (the median of several runs); separate
/// from the clock so the search itself can be tested.
pub fn search(
    target: Duration,
    memory_kib: u32,
    parallelism: u32,
    mut measure: impl FnMut(u32, u32) -> Duration,
) -> Calibrated {
    let mut memory_kib = memory_kib.max(8 * parallelism.max(1));
    let mut one = measure(memory_kib, 1);
    while one > target && memory_kib / 2 >= MIN_MEMORY_KIB {
        memory_kib /= 2;
        one = measure(memory_kib, 1);
    }
    // The cost of argon2 grows linearly with iterations: estimate, then correct by measuring.
    let per_iteration = one.max(Duration::from_micros(1));
    let mut iterations = u32::try_from(target.as_nanos() / per_iteration.as_nanos())
        .unwrap_or(u32::MAX)
        .clamp(1, 1_000);
    let mut duration = measure(memory_kib, iterations);
    while duration < target && iterations < 1_000 {
        iterations += 1;
        duration = measure(memory_kib, iterations);
    }
    while duration > target + target / 4 && iterations > 1 {
        iterations -= 1;
        duration = measure(memory_kib, iterations);
    }
    Calibrated {
        memory_kib,
        iterations,
        parallelism,
        duration,
    }
}

/// Times real argon2id hashes on this machine: the median of `runs`.
pub fn measure_argon2(memory_kib: u32, iterations: u32, parallelism: u32, runs: usize) -> Duration {
    let mut memory: Vec<Block> = Vec::new();
    let mut times: Vec<Duration> = (0..runs.max(1))
        .map(|_| {
            let started = Instant::now();
            let result = Params::new(memory_kib, iterations, parallelism, Some(32))
                .map_err(super::internal)
                .and_then(|params| {
                    let mut out = [0u8; 32];
                    argon2_into(
                        Algorithm::Argon2id,
                        Version::V0x13,
                        params,
                        "calibration password",
                        b"calibration-salt",
                        &mut out,
                        &mut memory,
                    )
                });
            if result.is_err() {
                return Duration::MAX;
            }
            started.elapsed()
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A machine where one iteration over 1 MiB takes 1 ms.
    fn fake(memory_kib: u32, iterations: u32) -> Duration {
        Duration::from_micros(u64::from(memory_kib) * u64::from(iterations) * 1000 / 1024)
    }

    #[test]
    fn iterations_grow_to_the_target() {
        let found = search(Duration::from_millis(100), 19 * 1024, 1, fake);
        assert_eq!(found.memory_kib, 19 * 1024);
        assert_eq!(found.iterations, 6, "{found:?}");
        assert!(found.duration >= Duration::from_millis(100));
    }

    #[test]
    fn memory_shrinks_only_to_the_floor() {
        let found = search(Duration::from_millis(10), 128 * 1024, 1, fake);
        assert_eq!(
            found.memory_kib,
            32 * 1024,
            "halved while above 19 MiB: {found:?}"
        );
        assert_eq!(found.iterations, 1);
    }
}
