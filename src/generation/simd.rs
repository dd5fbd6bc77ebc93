//! Which vector kernels the CPU can run: the hand-vectorised loops of the CPU head and of
//! sampling have an AVX2 + FMA version, chosen at run time, and a portable one.

/// Whether this CPU has AVX2 and FMA (always false off x86-64).
pub(crate) fn has_avx2_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}
