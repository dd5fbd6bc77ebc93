//! `dst = scale · lhs · rhs` through the `gemm` crate (the matrix kernel Burn's CPU backend
//! uses), into a row-major buffer.

use crate::host::view::MatRef;

/// How many threads one product may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Threads {
    /// The calling thread only (the caller parallelises over products).
    One,
    /// Every thread of the current Rayon pool.
    Pool,
}

/// Writes `scale · lhs · rhs` (`[m, k] · [k, n]`) into `dst[i · dst_row_stride + j]`, or adds it
/// to what `dst` holds when `accumulate`. Each element is summed in the same order whatever the
/// threads.
pub fn product_into(
    dst: &mut [f32],
    dst_row_stride: usize,
    lhs: MatRef<'_>,
    rhs: MatRef<'_>,
    scale: f32,
    accumulate: bool,
    threads: Threads,
) {
    let (m, k, n) = (lhs.rows(), lhs.cols(), rhs.cols());
    assert_eq!(k, rhs.rows(), "product_into: inner dimensions differ");
    assert!(n <= dst_row_stride, "product_into: rows of dst too short");
    assert!(
        (m - 1) * dst_row_stride + n <= dst.len(),
        "product_into: dst too small"
    );
    let (lhs_ptr, lhs_rs, lhs_cs) = lhs.ptr_at(0, 0);
    let (rhs_ptr, rhs_rs, rhs_cs) = rhs.ptr_at(0, 0);
    // SAFETY: every index the kernel touches was checked above: dst holds m rows of n values at
    // the given stride, and the views were checked to lie inside their buffers.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            dst_row_stride as isize,
            accumulate,
            lhs_ptr,
            lhs_cs,
            lhs_rs,
            rhs_ptr,
            rhs_cs,
            rhs_rs,
            1.0,
            scale,
            false,
            false,
            false,
            match threads {
                Threads::One => gemm::Parallelism::None,
                Threads::Pool => gemm::Parallelism::Rayon(0),
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [[1, 2], [3, 4]] · [[5, 6, 7], [8, 9, 10]] = [[21, 24, 27], [47, 54, 61]], with the rhs
    /// read through a transposed (column-major) view and the result scaled and accumulated.
    #[test]
    fn a_hand_computed_product_through_strided_views() {
        let lhs = [1.0, 2.0, 3.0, 4.0];
        let rhs_t = [5.0, 8.0, 6.0, 9.0, 7.0, 10.0]; // rhs stored as [3, 2]
        let lhs = MatRef::row_major(&lhs, 2, 2).unwrap();
        let rhs = MatRef::row_major(&rhs_t, 3, 2).unwrap().t();
        let mut dst = vec![0.0; 8]; // row stride 4
        product_into(&mut dst, 4, lhs, rhs, 0.5, false, Threads::One);
        assert_eq!(dst, [10.5, 12.0, 13.5, 0.0, 23.5, 27.0, 30.5, 0.0]);
        product_into(
            &mut dst,
            4,
            lhs,
            rhs.block(0, 1, 2, 2),
            1.0,
            true,
            Threads::Pool,
        );
        assert_eq!(dst, [34.5, 39.0, 13.5, 0.0, 77.5, 88.0, 30.5, 0.0]);
    }

    /// A product large enough for the pool to split gives bit-for-bit what one thread gives.
    #[test]
    fn the_pool_sums_like_one_thread() {
        let (m, k, n) = (300, 700, 500);
        let value = |i: usize| ((i * 7919) % 1009) as f32 / 1009.0 - 0.5;
        let lhs: Vec<f32> = (0..m * k).map(value).collect();
        let rhs: Vec<f32> = (0..k * n).map(|i| value(i + 17)).collect();
        let lhs = MatRef::row_major(&lhs, m, k).unwrap();
        let rhs = MatRef::row_major(&rhs, k, n).unwrap();
        let (mut one, mut pool) = (vec![0.0; m * n], vec![0.0; m * n]);
        product_into(&mut one, n, lhs, rhs, 1.0, false, Threads::One);
        let threads = rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .unwrap();
        threads.install(|| product_into(&mut pool, n, lhs, rhs, 1.0, false, Threads::Pool));
        assert!(
            one.iter()
                .zip(&pool)
                .all(|(a, b)| a.to_bits() == b.to_bits())
        );
        let direct: f32 = (0..k).map(|j| lhs.at(7, j) * rhs.at(j, 9)).sum();
        assert!((one[7 * n + 9] - direct).abs() < 1e-3);
    }
}
