//! A branch-free `exp` for f32 that the compiler vectorises (the standard library's calls libm
//! once per element). Relative error below 2.5e-7 over the whole f32 range where `exp` is
//! normal; inputs below −87.3 give about 1e-38 instead of a subnormal or zero, which is
//! immaterial for sums of exponentials that hold at least one term equal to 1.

use super::simd::with_avx2_fma;

const LOG2_E: f32 = std::f32::consts::LOG2_E;
/// ln 2 split into a part exact in f32 and the rest (Cody–Waite), so `x − n·ln 2` stays exact.
const LN2_HI: f32 = 0.693_145_75;
const LN2_LO: f32 = 1.428_606_8e-6;
/// Adding then subtracting 1.5·2²³ rounds an f32 of magnitude below 2²² to the nearest integer.
const ROUNDER: f32 = 12_582_912.0;

/// `e^x`, for `x` clamped to [−87.3, 88.7] (NaN stays NaN).
#[inline(always)]
pub(crate) fn exp(x: f32) -> f32 {
    let x = x.clamp(-87.3, 88.7);
    // `shifted` holds n = round(x·log₂e) in its low mantissa bits; `n` is the same as a float.
    let shifted = x * LOG2_E + ROUNDER;
    let n = shifted - ROUNDER;
    let r = n.mul_add(-LN2_LO, n.mul_add(-LN2_HI, x));
    // Taylor series of e^r to degree 7 on |r| ≤ ln2/2 (truncation error below 1e-8).
    let mut p: f32 = 1.0 / 5040.0;
    p = p.mul_add(r, 1.0 / 720.0);
    p = p.mul_add(r, 1.0 / 120.0);
    p = p.mul_add(r, 1.0 / 24.0);
    p = p.mul_add(r, 1.0 / 6.0);
    p = p.mul_add(r, 0.5);
    p = p.mul_add(r, 1.0);
    p = p.mul_add(r, 1.0);
    // 2^n built in the exponent field (n is in [−126, 128)), with integer operations only: a
    // float-to-int cast would saturate lane by lane and keep the loop from vectorising.
    let biased = shifted
        .to_bits()
        .wrapping_sub(ROUNDER.to_bits())
        .wrapping_add(127);
    let scale = f32::from_bits(biased << 23);
    p * scale
}

/// The larger of `acc` and `x`, keeping `acc` when `x` is NaN: a single vector `max`
/// instruction, where `f32::max` adds a NaN test and blend that serialise the loop.
#[inline(always)]
pub(crate) fn max_ordered(acc: f32, x: f32) -> f32 {
    if x > acc { x } else { acc }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_f64_exp_to_a_few_ulps() {
        let mut worst = 0.0f64;
        let mut x = -87.0f32;
        while x < 88.0 {
            let want = (x as f64).exp();
            let got = exp(x) as f64;
            worst = worst.max(((got - want) / want).abs());
            x += 0.013;
        }
        assert!(worst < 2.5e-7, "worst relative error {worst}");
    }

    #[test]
    fn log_sum_exp_of_hand_computed_rows() {
        let ln = |x: f32| x.ln();
        // [0, ln 2, ln 3, ln 4] sums to 10; eleven values cover the lanes and the tail.
        assert!((log_sum_exp(&[0.0, ln(2.0), ln(3.0), ln(4.0)]) - ln(10.0)).abs() < 1e-6);
        let row: Vec<f32> = (0..11).map(|i| i as f32 - 1000.0).collect();
        let want = -1000.0 + ((0..11).map(|i| (i as f64).exp()).sum::<f64>()).ln() as f32;
        assert!((log_sum_exp(&row) - want).abs() < 1e-3);
        assert_eq!(log_sum_exp(&[]), f32::NEG_INFINITY);
        assert_eq!(log_sum_exp(&[f32::NEG_INFINITY; 9]), f32::NEG_INFINITY);
        assert!(log_sum_exp(&[1.0, f32::NAN]).is_nan());
        assert!(exp(f32::NAN).is_nan());
    }

    #[test]
    fn exact_points_and_the_clamped_tails() {
        assert_eq!(exp(0.0), 1.0);
        assert!((exp(1.0) - std::f32::consts::E).abs() < 1e-6);
        assert!((exp(-std::f32::consts::LN_2) - 0.5).abs() < 1e-7);
        // Far below the normal range: a tiny positive number, never NaN, never negative.
        for x in [-100.0f32, -1e30, f32::NEG_INFINITY] {
            let y = exp(x);
            assert!(y > 0.0 && y < 1e-37, "exp({x}) = {y}");
        }
    }
}

with_avx2_fma! {
    /// `log Σ exp(x)` (−∞ for no values or all −∞; NaN if any value is NaN).
    pub(crate) fn log_sum_exp(values: &[f32]) -> f32 = log_sum_exp_portable;
}

/// The largest value (NaNs passed over, −∞ for none), in eight lanes so the loop vectorises: a
/// maximum does not depend on the order it is taken in.
#[inline(always)]
pub(crate) fn lane_max(values: &[f32]) -> f32 {
    const L: usize = 8;
    let chunks = values.chunks_exact(L);
    let tail = chunks.remainder();
    let mut lanes = [f32::NEG_INFINITY; L];
    for c in chunks {
        for l in 0..L {
            lanes[l] = max_ordered(lanes[l], c[l]);
        }
    }
    lanes
        .iter()
        .chain(tail)
        .fold(f32::NEG_INFINITY, |m, &x| max_ordered(m, x))
}

/// Turns `row` (−∞ where a key is hidden) into its softmax in place and returns its maximum and
/// the sum of its exponentials after subtracting it (`max + sum.ln()` is its log-sum-exp); a row
/// with nothing visible becomes zeros and gives (−∞, 0). The exponentials come from one pass the
/// compiler vectorises and their sum from a second, in the row's order (an f32 sum in lanes
/// would round differently).
#[inline(always)]
pub(crate) fn softmax_in_place(row: &mut [f32]) -> (f32, f32) {
    let max = lane_max(row);
    if max == f32::NEG_INFINITY {
        row.fill(0.0);
        return (max, 0.0);
    }
    for x in row.iter_mut() {
        // exp clamps −∞ to a tiny positive number; hidden keys must weigh exactly 0.
        let e = exp(*x - max);
        *x = if *x == f32::NEG_INFINITY { 0.0 } else { e };
    }
    let sum = row.iter().fold(0.0f32, |s, &x| s + x);
    let inv = 1.0 / sum;
    row.iter_mut().for_each(|x| *x *= inv);
    (max, sum)
}

/// Eight lanes so the loops vectorise, summed in a fixed order.
#[inline(always)]
fn log_sum_exp_portable(values: &[f32]) -> f32 {
    const L: usize = 8;
    let chunks = values.chunks_exact(L);
    let tail = chunks.remainder();
    let max = lane_max(values);
    if values.iter().any(|v| v.is_nan()) {
        return f32::NAN;
    }
    if !max.is_finite() {
        return max;
    }
    let mut sums = [0.0f32; L];
    for c in chunks {
        for l in 0..L {
            sums[l] += exp(c[l] - max);
        }
    }
    let sum = sums.iter().sum::<f32>() + tail.iter().map(|&x| exp(x - max)).sum::<f32>();
    max + sum.ln()
}
