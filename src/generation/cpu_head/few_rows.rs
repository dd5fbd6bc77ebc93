//! Logits of a decoding step's tokens against an output matrix whose vocabulary rows are
//! contiguous (the tied embedding), without packing: the vocabulary rows are streamed from memory
//! once (prefetched a group ahead), in chunks that stay in cache while every group of tokens
//! passes over them, and multiplied against the tokens' hidden states. A general matrix kernel
//! repacks the whole matrix on every call, which costs as much as the product itself when only a
//! few tokens share it. Every logit is summed in the same order whatever the number of tokens, so
//! a row's samples do not depend on its batch.

/// Lanes of one vector register (8 × f32 with AVX2).
const L: usize = 8;

/// `out[i · out_stride + v] = scale · hidden_i · rows_v` for the `m` hidden states (row-major
/// `[m, k]`) and the `n` vocabulary rows `rows(v)` (each `k` long).
pub fn few_rows_logits<'a>(
    out: &mut [f32],
    out_stride: usize,
    hidden: &[f32],
    k: usize,
    n: usize,
    rows: impl Fn(usize) -> &'a [f32],
    scale: f32,
) {
    #[cfg(target_arch = "x86_64")]
    if crate::host::simd::has_avx2_fma() {
        // SAFETY: the CPU has the features the function is compiled for.
        return unsafe { few_rows_avx2(out, out_stride, hidden, k, n, rows, scale) };
    }
    few_rows_portable(out, out_stride, hidden, k, n, rows, scale)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn few_rows_avx2<'a>(
    out: &mut [f32],
    out_stride: usize,
    hidden: &[f32],
    k: usize,
    n: usize,
    rows: impl Fn(usize) -> &'a [f32],
    scale: f32,
) {
    // SAFETY (of the calls below): AVX2 and FMA are enabled here, as `dots_avx2` requires.
    walk(
        out,
        out_stride,
        hidden,
        k,
        n,
        rows,
        scale,
        |w, h| unsafe { dots_avx2::<2, 4>(w, h, k) },
        |w, h| unsafe { dots_avx2::<4, 1>(w, h, k) },
    )
}

fn few_rows_portable<'a>(
    out: &mut [f32],
    out_stride: usize,
    hidden: &[f32],
    k: usize,
    n: usize,
    rows: impl Fn(usize) -> &'a [f32],
    scale: f32,
) {
    walk(
        out,
        out_stride,
        hidden,
        k,
        n,
        rows,
        scale,
        |w, h| dots::<2, 4>(w, h, k),
        |w, h| dots::<4, 1>(w, h, k),
    )
}

/// Bytes of vocabulary rows one chunk of [`walk`] spans: they stay in the core's L2 cache while
/// every group of tokens passes over them.
const CHUNK_BYTES: usize = 128 << 10;

/// Vocabulary rows per chunk of [`walk`] for rows `k` long: a multiple of 4, so that the row
/// groups of either path start where they would without chunks.
fn chunk_rows(k: usize) -> usize {
    (CHUNK_BYTES / (4 * k.max(1))).max(4) / 4 * 4
}

/// Tokens in groups of 4 against pairs of vocabulary rows, then the remaining tokens one at a
/// time against groups of 4 rows (more independent sums for a lone token). The vocabulary goes in
/// chunks of [`chunk_rows`], each read from memory once and then from cache by every group of
/// tokens. Every logit is summed in the same order on either path and in any chunk, so a token's
/// logits do not depend on how many tokens share the call.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn walk<'a>(
    out: &mut [f32],
    out_stride: usize,
    hidden: &[f32],
    k: usize,
    n: usize,
    rows: impl Fn(usize) -> &'a [f32],
    scale: f32,
    four_tokens: impl Fn([&[f32]; 2], [&[f32]; 4]) -> [[f32; 2]; 4],
    one_token: impl Fn([&[f32]; 4], [&[f32]; 1]) -> [[f32; 4]; 1],
) {
    let m = hidden.len() / k;
    let grouped = m / 4 * 4;
    let token = |i: usize| &hidden[i * k..(i + 1) * k];
    // Rows v..v+R, the last one repeated past the end (its results are not written).
    let row_group = |v: usize| -> [&[f32]; 4] { [0, 1, 2, 3].map(|r| rows((v + r).min(n - 1))) };
    let mut put = |i: usize, v: usize, values: &[f32]| {
        for (r, &x) in values.iter().enumerate().take(n - v) {
            out[i * out_stride + v + r] = x * scale;
        }
    };
    let chunk = chunk_rows(k);
    for start in (0..n).step_by(chunk) {
        let end = (start + chunk).min(n);
        for i in (0..grouped).step_by(4) {
            for v in (start..end).step_by(2) {
                let [a, b, ..] = row_group(v);
                let d = four_tokens([a, b], [token(i), token(i + 1), token(i + 2), token(i + 3)]);
                for (t, d) in d.iter().enumerate() {
                    put(i + t, v, d);
                }
            }
        }
        for i in grouped..m {
            for v in (start..end).step_by(4) {
                put(i, v, &one_token(row_group(v), [token(i)])[0]);
            }
        }
    }
}

/// `hᵗ·w_r` for each of the `R` rows and `T` hidden states (all `k` long), in `L` lanes: the
/// portable version of [`dots_avx2`], with the same summation order.
fn dots<const R: usize, const T: usize>(w: [&[f32]; R], h: [&[f32]; T], k: usize) -> [[f32; R]; T] {
    let mut acc = [[[0.0f32; L]; R]; T];
    let full = k / L * L;
    for c in (0..full).step_by(L) {
        for t in 0..T {
            for r in 0..R {
                for l in 0..L {
                    acc[t][r][l] = w[r][c + l].mul_add(h[t][c + l], acc[t][r][l]);
                }
            }
        }
    }
    let mut out = [[0.0f32; R]; T];
    for t in 0..T {
        for r in 0..R {
            // The lanes as the vector reduction adds them: halves, then pairs, then the two.
            let a = acc[t][r];
            let q = [a[0] + a[4], a[1] + a[5], a[2] + a[6], a[3] + a[7]];
            out[t][r] = ((q[0] + q[1]) + (q[2] + q[3])) + tail(w[r], h[t], full, k);
        }
    }
    out
}

/// The products past the last full vector.
#[inline(always)]
fn tail(w: &[f32], h: &[f32], full: usize, k: usize) -> f32 {
    (full..k).map(|j| w[j] * h[j]).sum()
}

/// [`dots`] with AVX2 vectors: the rows' vectors loaded once per step and multiplied into the
/// `R·T` accumulators that stay in registers.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn dots_avx2<const R: usize, const T: usize>(
    w: [&[f32]; R],
    h: [&[f32]; T],
    k: usize,
) -> [[f32; R]; T] {
    use std::arch::x86_64::*;
    assert!(w.iter().all(|r| r.len() >= k) && h.iter().all(|x| x.len() >= k));
    let full = k / L * L;
    let mut acc = [[_mm256_setzero_ps(); R]; T];
    for c in (0..full).step_by(L) {
        if c % 16 == 0 {
            for row in w {
                // The same place in the next group's rows (rows are usually adjacent in memory);
                // a hint only, never dereferenced.
                let ahead = row.as_ptr().wrapping_add(c + R * k);
                _mm_prefetch::<_MM_HINT_T0>(ahead.cast());
            }
        }
        let mut wv = [_mm256_setzero_ps(); R];
        for r in 0..R {
            // SAFETY: c + L <= full <= k <= every slice's length (asserted above).
            wv[r] = unsafe { _mm256_loadu_ps(w[r].as_ptr().add(c)) };
        }
        for t in 0..T {
            // SAFETY: as above.
            let x = unsafe { _mm256_loadu_ps(h[t].as_ptr().add(c)) };
            for r in 0..R {
                acc[t][r] = _mm256_fmadd_ps(wv[r], x, acc[t][r]);
            }
        }
    }
    let mut out = [[0.0f32; R]; T];
    for t in 0..T {
        for r in 0..R {
            let v = acc[t][r];
            // (a0+a4, a1+a5, a2+a6, a3+a7), then hadd: (q0+q1, q2+q3, ..), then hadd again.
            let q = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
            let p = _mm_hadd_ps(q, q);
            out[t][r] = _mm_cvtss_f32(_mm_hadd_ps(p, p)) + tail(w[r], h[t], full, k);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Logits of `hidden` against the rows of `w`, by the dispatching or the portable kernel.
    fn run(portable: bool, hidden: &[f32], w: &[f32], k: usize, n: usize) -> Vec<f32> {
        let mut out = vec![f32::NAN; hidden.len() / k * n];
        let rows = |v: usize| &w[v * k..(v + 1) * k];
        if portable {
            few_rows_portable(&mut out, n, hidden, k, n, rows, 0.5);
        } else {
            few_rows_logits(&mut out, n, hidden, k, n, rows, 0.5);
        }
        out
    }

    /// Against a direct computation for token counts and row counts that leave every kind of
    /// remainder (tokens not a multiple of 4, row counts not a multiple of 2 or 4, a hidden size
    /// not a multiple of 8), and over several chunks of rows, the last one partial; the vector
    /// and portable kernels agree bit for bit.
    #[test]
    fn equals_a_direct_product() {
        assert!(chunk_rows(40).is_multiple_of(4) && chunk_rows(40) >= 4);
        let chunks = (6, 2 * chunk_rows(40) + 7, 40);
        for (m, n, k) in [
            (1, 5, 16),
            (6, 7, 19),
            (4, 2, 8),
            (9, 1, 3),
            (5, 6, 24),
            chunks,
        ] {
            let hidden: Vec<f32> = (0..m * k).map(|i| (i % 11) as f32 - 5.0).collect();
            let w: Vec<f32> = (0..n * k).map(|i| ((i * 7) % 13) as f32 / 4.0).collect();
            let fast = run(false, &hidden, &w, k, n);
            assert_eq!(fast, run(true, &hidden, &w, k, n));
            for i in 0..m {
                for v in 0..n {
                    let want: f32 = (0..k)
                        .map(|j| hidden[i * k + j] * w[v * k + j])
                        .sum::<f32>()
                        * 0.5;
                    let got = fast[i * n + v];
                    assert!((got - want).abs() < 1e-3, "({m}, {n}, {k}) at ({i}, {v})");
                }
            }
        }
    }

    /// A token's logits are the same bits whether it is computed alone or with others (grouped
    /// by 4 or left over), so sampling does not depend on the batch.
    #[test]
    fn a_tokens_logits_do_not_depend_on_the_batch() {
        let (m, n, k) = (7, 9, 40);
        let hidden: Vec<f32> = (0..m * k)
            .map(|i| ((i * 13) % 17) as f32 / 7.0 - 1.1)
            .collect();
        let w: Vec<f32> = (0..n * k)
            .map(|i| ((i * 29) % 23) as f32 / 11.0 - 0.9)
            .collect();
        let all = run(false, &hidden, &w, k, n);
        for i in 0..m {
            let alone = run(false, &hidden[i * k..(i + 1) * k], &w, k, n);
            assert_eq!(alone, all[i * n..(i + 1) * n], "token {i}");
        }
    }
}
