//! Helpers of this crate's tests.

/// Asserts that `a` is within `tolerance` of `b`, relative to `b`'s largest value (at least 1).
pub fn assert_close(what: &str, a: &[f32], b: &[f32], tolerance: f32) {
    assert_eq!(a.len(), b.len(), "{what}");
    let scale = b.iter().fold(1.0f32, |m, v| m.max(v.abs()));
    let worst = a
        .iter()
        .zip(b)
        .map(|(p, q)| (p - q).abs())
        .fold(0.0, f32::max);
    assert!(
        worst <= tolerance * scale,
        "{what}: off by {worst} (scale {scale})"
    );
}
