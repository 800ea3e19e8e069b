//! How many AWS calls a long scheduled run keeps in flight: additive increase,
//! multiplicative decrease. IAM's request rate is shared by the whole account, so a run
//! that meets throttling halves its pace at once (leaving room for the account's other
//! callers) and earns it back one call at a time while nothing is throttled. It never
//! drops below a quarter of the configured bound: each throttled call already waits out
//! the SDK's own jittered backoff, and a run slowed to one call at a time would leave a
//! 5,000-user audit unfinished for hours. Pure: the caller feeds it what it saw in each
//! tick.

/// The lowest pace: a quarter of `max`, at least 1.
pub fn floor(max: usize) -> usize {
    (max / 4).max(1)
}

/// The in-flight limit after a tick in which calls were retried (`throttled`) or not,
/// between [`floor`] and `max`.
pub fn next_limit(limit: usize, max: usize, throttled: bool) -> usize {
    let max = max.max(1);
    if throttled {
        (limit / 2).clamp(floor(max), max)
    } else {
        (limit + 1).clamp(floor(max), max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn halves_on_throttling_and_climbs_back_one_at_a_time() {
        let cases = [
            // (limit, max, throttled, next)
            (16, 16, false, 16),
            (16, 16, true, 8),
            (8, 16, true, 4),
            (4, 16, true, 4),
            (1, 16, true, 4),
            (3, 4, true, 1),
            (4, 16, false, 5),
            (15, 16, false, 16),
            (40, 16, false, 16),
            (0, 0, false, 1),
        ];
        for (limit, max, throttled, want) in cases {
            assert_eq!(
                next_limit(limit, max, throttled),
                want,
                "{limit} {max} {throttled}"
            );
        }
        // From the top, two throttled ticks reach the floor and more stay there; twelve
        // clean ones climb back.
        let mut l = 16;
        for _ in 0..5 {
            l = next_limit(l, 16, true);
        }
        assert_eq!(l, 4);
        for _ in 0..12 {
            l = next_limit(l, 16, false);
        }
        assert_eq!(l, 16);
    }
}
