//! The TF-slim channel rounding rule used when a width multiplier scales a network.

/// Rounds `value` to the nearest multiple of `divisor`, never below `divisor` and never
/// more than 10% below `value` (the rule of TF-slim, MobileNetV2 and ProxylessNAS).
///
/// ```
/// use proxyless_space::make_divisible;
/// assert_eq!(make_divisible(32.0 * 1.4, 8), 48);
/// assert_eq!(make_divisible(16.0 * 0.35, 8), 8);
/// assert_eq!(make_divisible(24.0, 8), 24);
/// ```
pub fn make_divisible(value: f64, divisor: usize) -> usize {
    let d = divisor as f64;
    let rounded = ((value + d / 2.0) / d).floor() * d;
    let mut new = rounded.max(d) as usize;
    if (new as f64) < 0.9 * value {
        new += divisor;
    }
    new
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_reference_rule() {
        // Values from the official implementation (`make_divisible(v, 8)`).
        assert_eq!(make_divisible(32.0, 8), 32);
        assert_eq!(make_divisible(40.0 * 1.4, 8), 56);
        assert_eq!(make_divisible(1280.0 * 1.4, 8), 1792);
        assert_eq!(make_divisible(96.0 * 1.4, 8), 136);
        assert_eq!(make_divisible(320.0 * 1.4, 8), 448);
        // Rounding down by more than 10% is corrected upwards.
        assert_eq!(make_divisible(11.0, 8), 16);
        assert_eq!(make_divisible(3.0, 8), 8);
    }
}
