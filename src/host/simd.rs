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

/// Defines a function that runs `$portable` (an `#[inline(always)]` function with the same
/// signature) compiled for AVX2 + FMA when the CPU has them, and as it is otherwise. Without
/// this, `f32::mul_add` in code compiled for the baseline x86-64 is a call to the C library's
/// `fmaf` per element, and loops over it do not vectorise.
macro_rules! with_avx2_fma {
    ($(#[$doc:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? = $portable:path;) => {
        $(#[$doc])*
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2,fma")]
                fn vectorised($($arg: $ty),*) $(-> $ret)? {
                    $portable($($arg),*)
                }
                if $crate::host::simd::has_avx2_fma() {
                    // SAFETY: the CPU has the features `vectorised` is compiled for.
                    return unsafe { vectorised($($arg),*) };
                }
            }
            $portable($($arg),*)
        }
    };
}
pub(crate) use with_avx2_fma;
