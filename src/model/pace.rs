//! How many AWS calls a long scheduled run keeps in flight: additive increase,
//! multiplicative decrease. IAM's request rate is shared by the whole account, so a run
//! that meets throttling halves its pace at once (leaving room for the account's other
//! callers) and earns it back one call at a time while nothing is throttled. Pure: the
//! caller feeds it what it saw in each tick.

/// The in-flight limit after a tick in which calls were retried (`throttled`) or not,
/// between 1 and `max`.
pub fn next_limit(limit: usize, max: usize, throttled: bool) -> usize {
    let max = max.max(1);
    if throttled {
        (limit / 2).clamp(1, max)
    } else {
        (limit + 1).clamp(1, max)
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
            (1, 16, true, 1),
            (3, 16, true, 1),
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
        // From the top, four throttled ticks reach 1; sixteen clean ones climb back.
        let mut l = 16;
        for _ in 0..4 {
            l = next_limit(l, 16, true);
        }
        assert_eq!(l, 1);
        for _ in 0..15 {
            l = next_limit(l, 16, false);
        }
        assert_eq!(l, 16);
    }
}
