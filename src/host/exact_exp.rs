//! The C library's `expf`, eight lanes at a time and to the bit, and the CPU backend's sigmoid
//! built on it.
//!
//! Burn's CPU backend computes `exp` and `sigmoid` one element at a time through `f32::exp`,
//! i.e. the C library's `expf`; for the masked scores of attention (the dtype's lowest value) that
//! call also takes its underflow path, which sets `errno`. On x86-64 Linux with glibc and a CPU
//! with AVX2 and FMA, glibc runs its FMA build of `expf` (since 2.27: `2^(k/32)` from a 32-entry
//! table times a cubic in double precision). [`exp`] runs the same operations in the same
//! order, fused where that build fuses them, on four doubles per instruction, and the same
//! special cases, so every result equals `f32::exp`'s (checked against it in the tests). Anywhere
//! else both functions call `f32::exp` element by element, as Burn does.

use rayon::prelude::*;

/// Elements per task when a slice is split over threads (the work is elementwise, so the split
/// does not change any result).
const PAR_CHUNK: usize = 1 << 14;

/// `e^x` of each value, the same bits as `f32::exp` (see the module's doc).
pub fn exp(values: &[f32]) -> Vec<f32> {
    map(values, Kernel::Exp)
}

/// `1 / (1 + e^−x)` of each value, as Burn's CPU backend computes it (`1 / (1 + e^−x)` for
/// `x ≥ 0`, `e^x / (1 + e^x)` below), the same bits.
pub fn sigmoid(values: &[f32]) -> Vec<f32> {
    map(values, Kernel::Sigmoid)
}

/// Which function a pass applies.
#[derive(Debug, Clone, Copy)]
enum Kernel {
    Exp,
    Sigmoid,
}

fn map(values: &[f32], kernel: Kernel) -> Vec<f32> {
    let mut out = vec![0.0f32; values.len()];
    if values.len() <= PAR_CHUNK {
        apply(values, &mut out, kernel);
    } else {
        values
            .par_chunks(PAR_CHUNK)
            .zip(out.par_chunks_mut(PAR_CHUNK))
            .for_each(|(src, dst)| apply(src, dst, kernel));
    }
    out
}

fn apply(src: &[f32], dst: &mut [f32], kernel: Kernel) {
    #[cfg(all(target_arch = "x86_64", target_os = "linux", target_env = "gnu"))]
    if super::simd::has_avx2_fma() {
        // SAFETY: the CPU has AVX2 and FMA.
        unsafe { glibc_fma::apply(src, dst, kernel) };
        return;
    }
    let f = match kernel {
        Kernel::Exp => f32::exp,
        Kernel::Sigmoid => sigmoid_one,
    };
    dst.iter_mut().zip(src).for_each(|(y, &x)| *y = f(x));
}

/// Burn's CPU sigmoid for one element (the form [`sigmoid`] reproduces).
fn sigmoid_one(x: f32) -> f32 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// glibc's `__expf_fma` (sysdeps/ieee754/flt-32/e_expf.c built with `-mfma -mavx2`), in AVX2.
#[cfg(all(target_arch = "x86_64", target_os = "linux", target_env = "gnu"))]
mod glibc_fma {
    use std::arch::x86_64::*;

    use super::Kernel;

    /// `2^(i/32)` with `i << 47` subtracted from its bits, for i in 0..32 (glibc's
    /// `__exp2f_data.tab`): adding `k << 47` to entry `k mod 32` gives `2^(k/32)`.
    const TABLE: [u64; 32] = [
        0x3ff0000000000000,
        0x3fefd9b0d3158574,
        0x3fefb5586cf9890f,
        0x3fef9301d0125b51,
        0x3fef72b83c7d517b,
        0x3fef54873168b9aa,
        0x3fef387a6e756238,
        0x3fef1e9df51fdee1,
        0x3fef06fe0a31b715,
        0x3feef1a7373aa9cb,
        0x3feedea64c123422,
        0x3feece086061892d,
        0x3feebfdad5362a27,
        0x3feeb42b569d4f82,
        0x3feeab07dd485429,
        0x3feea47eb03a5585,
        0x3feea09e667f3bcd,
        0x3fee9f75e8ec5f74,
        0x3feea11473eb0187,
        0x3feea589994cce13,
        0x3feeace5422aa0db,
        0x3feeb737b0cdc5e5,
        0x3feec49182a3f090,
        0x3feed503b23e255d,
        0x3feee89f995ad3ad,
        0x3feeff76f2fb5e47,
        0x3fef199bdd85529c,
        0x3fef3720dcef9069,
        0x3fef5818dcfba487,
        0x3fef7c97337b9b5f,
        0x3fefa4afa2a490da,
        0x3fefd0765b6e4540,
    ];
    /// 32 / ln 2.
    const INV_LN2_N: f64 = f64::from_bits(0x40471547652b82fe);
    /// 1.5 · 2^52: adding it rounds to an integer, held in the low bits.
    const SHIFT: f64 = f64::from_bits(0x4338000000000000);
    /// The cubic's coefficients, highest degree first, scaled for `r` in units of 1/32.
    const C0: f64 = f64::from_bits(0x3ebc6af84b912394);
    const C1: f64 = f64::from_bits(0x3f2ebfce50fac4f3);
    const C2: f64 = f64::from_bits(0x3f962e42ff0c52d6);
    /// Bits of |x| from which the special cases apply: |x| ≥ 88 (top 12 bits ≥ those of 88).
    const SPECIAL_FROM: i32 = 0x42b0_0000;
    /// Above it the result overflows to +∞ (log 2^128, rounded down).
    const OVERFLOW_ABOVE: f32 = f32::from_bits(0x42b17217);
    /// Below it the result underflows to +0 (log 2^−150).
    const UNDERFLOW_BELOW: f32 = f32::from_bits(0xc2cff1b4);
    /// Below it (and not below the previous) the result is the least subnormal, `errno` aside
    /// (log 2^−149).
    const MAY_UNDERFLOW_BELOW: f32 = f32::from_bits(0xc2ce8ecf);

    /// Applies `kernel` to `src` into `dst` (as long) eight at a time; the tail goes through a
    /// zero-padded lane block.
    #[target_feature(enable = "avx2,fma")]
    pub(super) fn apply(src: &[f32], dst: &mut [f32], kernel: Kernel) {
        let mut dst_chunks = dst.chunks_exact_mut(8);
        let mut src_chunks = src.chunks_exact(8);
        for (from, to) in (&mut src_chunks).zip(&mut dst_chunks) {
            let mut lanes: [f32; 8] = from.try_into().expect("eight lanes");
            apply8(&mut lanes, kernel);
            to.copy_from_slice(&lanes);
        }
        let (from, to) = (src_chunks.remainder(), dst_chunks.into_remainder());
        if !from.is_empty() {
            let mut lanes = [0.0f32; 8];
            lanes[..from.len()].copy_from_slice(from);
            apply8(&mut lanes, kernel);
            to.copy_from_slice(&lanes[..from.len()]);
        }
    }

    #[target_feature(enable = "avx2,fma")]
    fn apply8(lanes: &mut [f32; 8], kernel: Kernel) {
        // SAFETY: loads and stores of eight f32 through an `&mut [f32; 8]`.
        let x = unsafe { _mm256_loadu_ps(lanes.as_ptr()) };
        let y = match kernel {
            Kernel::Exp => exp8(x),
            Kernel::Sigmoid => sigmoid8(x),
        };
        unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), y) };
    }

    /// `1 / (1 + e^−x)` for `x ≥ 0`, `e^x / (1 + e^x)` otherwise: one exponential of `−|x|`
    /// (the same argument either way, `−0` included, whose exponential is 1 as `0`'s is).
    #[target_feature(enable = "avx2,fma")]
    fn sigmoid8(x: __m256) -> __m256 {
        let non_negative = _mm256_cmp_ps::<_CMP_GE_OQ>(x, _mm256_setzero_ps());
        let minus_abs = _mm256_or_ps(x, _mm256_set1_ps(-0.0));
        let e = exp8(minus_abs);
        let one = _mm256_set1_ps(1.0);
        let denominator = _mm256_add_ps(one, e);
        let numerator = _mm256_blendv_ps(e, one, non_negative);
        _mm256_div_ps(numerator, denominator)
    }

    /// `e^x` lane by lane, each the bits glibc's `__expf_fma` returns.
    #[target_feature(enable = "avx2,fma")]
    fn exp8(x: __m256) -> __m256 {
        let low = main_path(_mm256_castps256_ps128(x));
        let high = main_path(_mm256_extractf128_ps::<1>(x));
        let y = _mm256_set_m128(high, low);
        let abs_bits = _mm256_and_si256(_mm256_castps_si256(x), _mm256_set1_epi32(0x7fff_ffff));
        let special = _mm256_cmpgt_epi32(abs_bits, _mm256_set1_epi32(SPECIAL_FROM - 1));
        let special = _mm256_movemask_ps(_mm256_castsi256_ps(special));
        if special == 0 {
            return y;
        }
        let mut xs = [0.0f32; 8];
        let mut ys = [0.0f32; 8];
        // SAFETY: stores and loads of eight f32 through local arrays.
        unsafe {
            _mm256_storeu_ps(xs.as_mut_ptr(), x);
            _mm256_storeu_ps(ys.as_mut_ptr(), y);
        }
        for lane in 0..8 {
            if special & (1 << lane) != 0 {
                ys[lane] = special_case(xs[lane], ys[lane]);
            }
        }
        unsafe { _mm256_loadu_ps(ys.as_ptr()) }
    }

    /// glibc's result for `|x| ≥ 88` or NaN, given the main path's `y`.
    fn special_case(x: f32, y: f32) -> f32 {
        if x == f32::NEG_INFINITY {
            0.0
        } else if !x.is_finite() {
            x + x
        } else if x > OVERFLOW_ABOVE {
            f32::INFINITY
        } else if x < UNDERFLOW_BELOW {
            0.0
        } else if x < MAY_UNDERFLOW_BELOW {
            f32::from_bits(1)
        } else {
            y
        }
    }

    /// The table path for four lanes, widened to double: `x·32/ln 2 = k + r`, `e^x = 2^(k/32) ·
    /// 2^(r/32)` with the second factor a cubic in `r`.
    #[target_feature(enable = "avx2,fma")]
    fn main_path(x: __m128) -> __m128 {
        let xd = _mm256_cvtps_pd(x);
        let inv_ln2_n = _mm256_set1_pd(INV_LN2_N);
        let shift = _mm256_set1_pd(SHIFT);
        let kd_shifted = _mm256_fmadd_pd(inv_ln2_n, xd, shift);
        let ki = _mm256_castpd_si256(kd_shifted);
        let kd = _mm256_sub_pd(kd_shifted, shift);
        let r = _mm256_fmsub_pd(inv_ln2_n, xd, kd);
        let index = _mm256_and_si256(ki, _mm256_set1_epi64x(31));
        // SAFETY: every index is below 32, the table's length.
        let entry = unsafe { _mm256_i64gather_epi64::<8>(TABLE.as_ptr().cast(), index) };
        let s = _mm256_castsi256_pd(_mm256_add_epi64(entry, _mm256_slli_epi64::<47>(ki)));
        let z = _mm256_fmadd_pd(r, _mm256_set1_pd(C0), _mm256_set1_pd(C1));
        let r2 = _mm256_mul_pd(r, r);
        let y = _mm256_fmadd_pd(r, _mm256_set1_pd(C2), _mm256_set1_pd(1.0));
        let y = _mm256_fmadd_pd(z, r2, y);
        _mm256_cvtpd_ps(_mm256_mul_pd(y, s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Asserts that each result has the bits `want` gives for its input (any NaN matches any
    /// NaN).
    fn assert_same_bits(inputs: &[f32], got: &[f32], want: impl Fn(f32) -> f32, name: &str) {
        for (&x, &y) in inputs.iter().zip(got) {
            let w = want(x);
            assert!(
                y.to_bits() == w.to_bits() || (y.is_nan() && w.is_nan()),
                "{name}({x:e} = {:#010x}) gave {y:e} ({:#010x}), the reference {w:e} ({:#010x})",
                x.to_bits(),
                y.to_bits(),
                w.to_bits()
            );
        }
    }

    /// Every 251st bit pattern (both signs, NaNs and subnormals included), the 4096 patterns
    /// around each threshold of the special cases and around −87.34 (below which results are
    /// subnormal), and the named values.
    fn inputs() -> Vec<f32> {
        let mut xs: Vec<f32> = (0..=u32::MAX).step_by(251).map(f32::from_bits).collect();
        for edge in [
            88.0f32,
            -88.0,
            f32::from_bits(0x42b17217),
            f32::from_bits(0xc2cff1b4),
            f32::from_bits(0xc2ce8ecf),
            -87.33655,
        ] {
            let bits = edge.to_bits();
            xs.extend((bits - 2048..bits + 2048).map(f32::from_bits));
        }
        xs.extend([
            0.0,
            -0.0,
            1.0,
            -1.0,
            f32::MIN,
            f32::MAX,
            f32::MIN_POSITIVE,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
            f32::from_bits(1),
            f32::from_bits(0x8000_0001),
        ]);
        xs
    }

    #[test]
    fn exp_gives_the_c_librarys_bits() {
        let xs = inputs();
        let got = exp(&xs);
        assert_same_bits(&xs, &got, f32::exp, "exp");
        // The results vary (a kernel that returned its input, or zeros, would fail above).
        assert_eq!(got[xs.len() - 10], std::f32::consts::E);
    }

    #[test]
    fn sigmoid_gives_the_cpu_backends_bits() {
        let xs = inputs();
        let got = sigmoid(&xs);
        assert_same_bits(&xs, &got, sigmoid_one, "sigmoid");
        assert_eq!(sigmoid(&[0.0, -0.0]), [0.5, 0.5]);
    }

    /// Lengths that leave a tail, and one split over threads.
    #[test]
    fn tails_and_parallel_chunks() {
        for len in [0, 1, 7, 9, 17, PAR_CHUNK + 5, 3 * PAR_CHUNK] {
            let xs: Vec<f32> = (0..len).map(|i| (i as f32 * 0.37).sin() * 90.0).collect();
            assert_same_bits(&xs, &exp(&xs), f32::exp, "exp");
        }
    }

    /// All 2³² inputs (a minute or so in release: `cargo test --release exhaustive --
    /// --ignored`).
    #[test]
    #[ignore]
    fn exhaustive_exp_and_sigmoid() {
        (0..=u16::MAX).into_par_iter().for_each(|high| {
            let xs: Vec<f32> = (0..=u16::MAX)
                .map(|low| f32::from_bits((high as u32) << 16 | low as u32))
                .collect();
            assert_same_bits(&xs, &exp(&xs), f32::exp, "exp");
            assert_same_bits(&xs, &sigmoid(&xs), sigmoid_one, "sigmoid");
        });
    }
}
