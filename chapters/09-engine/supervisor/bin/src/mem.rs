//! `memcpy`, `memmove`, `memset`, `memcmp`, `bcmp` and `strlen`: the
//! compiler emits calls to the first five for slice copies and comparisons,
//! `CStr::from_ptr` calls `strlen`, and without libc nobody else defines them. Written so that the compiler cannot recognise them as
//! the very loops it replaces with calls to them (which would make each
//! call itself): `rep movsb`/`rep stosb` on x86_64, volatile byte loops
//! elsewhere (and for the comparisons, which only look at short option names).

#[cfg(target_arch = "x86_64")]
mod copy {
    /// # Safety
    /// `dst` and `src` valid for `n` bytes; if they overlap, `dst <= src`.
    pub unsafe fn forward(dst: *mut u8, src: *const u8, n: usize) {
        // SAFETY: the caller's promise; `rep movsb` copies rcx bytes from
        // [rsi] to [rdi] upwards (the direction flag is clear, as the ABI
        // guarantees at a call).
        unsafe {
            core::arch::asm!(
                "rep movsb",
                inout("rcx") n => _, inout("rdi") dst => _, inout("rsi") src => _,
                options(nostack, preserves_flags),
            );
        }
    }

    /// # Safety
    /// `dst` and `src` valid for `n` bytes.
    pub unsafe fn backward(dst: *mut u8, src: *const u8, n: usize) {
        // SAFETY: the caller's promise; with the direction flag set, `rep
        // movsb` copies downwards from the last byte; cleared again after,
        // as the ABI requires.
        unsafe {
            core::arch::asm!(
                "std",
                "rep movsb",
                "cld",
                inout("rcx") n => _,
                inout("rdi") dst.wrapping_add(n).wrapping_sub(1) => _,
                inout("rsi") src.wrapping_add(n).wrapping_sub(1) => _,
                options(nostack),
            );
        }
    }

    /// # Safety
    /// `dst` valid for `n` bytes.
    pub unsafe fn fill(dst: *mut u8, byte: u8, n: usize) {
        // SAFETY: the caller's promise; `rep stosb` stores al rcx times upwards.
        unsafe {
            core::arch::asm!(
                "rep stosb",
                inout("rcx") n => _, inout("rdi") dst => _, in("al") byte,
                options(nostack, preserves_flags),
            );
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
mod copy {
    use core::ptr::{read_volatile, write_volatile};

    /// # Safety
    /// `dst` and `src` valid for `n` bytes; if they overlap, `dst <= src`.
    pub unsafe fn forward(dst: *mut u8, src: *const u8, n: usize) {
        for i in 0..n {
            // SAFETY: within the caller's n bytes; upwards, as overlap allows.
            unsafe { write_volatile(dst.add(i), read_volatile(src.add(i))) }
        }
    }

    /// # Safety
    /// `dst` and `src` valid for `n` bytes.
    pub unsafe fn backward(dst: *mut u8, src: *const u8, n: usize) {
        for i in (0..n).rev() {
            // SAFETY: within the caller's n bytes; downwards.
            unsafe { write_volatile(dst.add(i), read_volatile(src.add(i))) }
        }
    }

    /// # Safety
    /// `dst` valid for `n` bytes.
    pub unsafe fn fill(dst: *mut u8, byte: u8, n: usize) {
        for i in 0..n {
            // SAFETY: within the caller's n bytes.
            unsafe { write_volatile(dst.add(i), byte) }
        }
    }
}

/// memcpy(3).
///
/// # Safety
/// As memcpy(3): both valid for `n` bytes, not overlapping.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memcpy(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    // SAFETY: the caller's promise.
    unsafe { copy::forward(dst, src, n) };
    dst
}

/// memmove(3).
///
/// # Safety
/// As memmove(3): both valid for `n` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memmove(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    // SAFETY: the caller's promise; copying downwards when `dst` is above
    // an overlapping `src`, so no byte is overwritten before it is read.
    unsafe {
        if (dst as usize).wrapping_sub(src as usize) >= n {
            copy::forward(dst, src, n);
        } else {
            copy::backward(dst, src, n);
        }
    }
    dst
}

/// memset(3).
///
/// # Safety
/// As memset(3): `dst` valid for `n` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memset(dst: *mut u8, byte: i32, n: usize) -> *mut u8 {
    // SAFETY: the caller's promise.
    unsafe { copy::fill(dst, byte as u8, n) };
    dst
}

/// memcmp(3).
///
/// # Safety
/// As memcmp(3): both valid for `n` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    for i in 0..n {
        // SAFETY: within the caller's n bytes.
        let (x, y) = unsafe {
            (
                core::ptr::read_volatile(a.add(i)),
                core::ptr::read_volatile(b.add(i)),
            )
        };
        if x != y {
            return i32::from(x) - i32::from(y);
        }
    }
    0
}

/// bcmp(3): memcmp(3) that only says equal (0) or not.
///
/// # Safety
/// As memcmp(3).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    // SAFETY: the caller's promise.
    unsafe { memcmp(a, b, n) }
}

/// strlen(3), for `CStr::from_ptr` (the arguments, once each).
///
/// # Safety
/// As strlen(3): `s` points to a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn strlen(s: *const u8) -> usize {
    let mut n = 0;
    // SAFETY: up to and including the NUL the caller promises.
    while unsafe { core::ptr::read_volatile(s.add(n)) } != 0 {
        n += 1;
    }
    n
}
