"""Lane-wise numerical primitives for the compiled GD engine (private).

Everything here is written as scalar code on float64 that LLVM can put into
SIMD lanes: no calls into libm, no ``**``, no data-dependent branches (only
selects). Two numba intrinsics give exact IEEE semantics that plain Python
arithmetic cannot express:

* :func:`fma` is ``llvm.fma.f64``: ``a * b + c`` with one rounding. It is
  exactly rounded, so the scalar and the vectorised code give the same bits;
  that is what keeps the engine's results independent of how LLVM vectorises
  a loop (block size, remainder loops). ``fastmath`` is never used.
* :func:`double_from_bits` / :func:`bits_of_double` reinterpret the 64 bits of
  a float as an int and back (a bitcast), which builds ``2**k`` directly in
  the exponent field.

:func:`vexp` is ``exp(x)``: Cody-Waite range reduction
``x = k ln2 + r``, ``|r| <= ln2 / 2``, a degree-13 Taylor polynomial in
Horner form with fused multiply-adds, and the scale ``2**k`` built from its
exponent bits. Over the float64 range it is within about 1 ulp of the
correctly rounded result (tests/test_engine.py measures it against numpy);
it propagates NaN, returns ``inf`` above 709.78 and ``0`` below -745.2.
In the gap regions ``(709.43, 709.78]`` and ``[-745.2, -708.3)`` (the
outputs there are above 1.4e308 or below 2.3e-308) it returns the value at
the clamp edge; a sigmoid or a softmax never sees a difference there.
"""

from __future__ import annotations

from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

__all__ = ["fma", "double_from_bits", "bits_of_double", "vexp"]


@intrinsic
def fma(typingctx, a, b, c):
    """``a * b + c`` rounded once (``llvm.fma.f64``)."""
    sig = types.float64(types.float64, types.float64, types.float64)

    def codegen(context, builder, signature, args):
        fn = builder.module.declare_intrinsic("llvm.fma", [ir.DoubleType()])
        return builder.call(fn, args)

    return sig, codegen


@intrinsic
def double_from_bits(typingctx, i):
    """The float64 whose bit pattern is the int64 ``i``."""
    sig = types.float64(types.int64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return sig, codegen


@intrinsic
def bits_of_double(typingctx, x):
    """The int64 bit pattern of the float64 ``x``."""
    sig = types.int64(types.float64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return sig, codegen


_LOG2E = 1.4426950408889634            # 1 / ln 2
_LN2_HI = 0.6931471805599453           # ln 2 rounded to float64
_LN2_LO = 2.3190468138462996e-17       # ln 2 - _LN2_HI
_SHIFTER = 6755399441055744.0          # 1.5 * 2**52: adding it rounds to an integer
_SHIFTER_BITS = 0x4338000000000000     # its bit pattern
_CLAMP_LO = -708.3                     # k >= -1022: 2**k is a normal number
_CLAMP_HI = 709.43                     # k <= 1023
_OVER = 709.782712893384               # exp overflows above this
_UNDER = -745.1332191019412            # exp rounds to 0 below this
_INF = float("inf")
# 1 / j! for j = 2 .. 13
_C2 = 0.5
_C3 = 0.16666666666666666
_C4 = 0.041666666666666664
_C5 = 0.008333333333333333
_C6 = 0.001388888888888889
_C7 = 0.0001984126984126984
_C8 = 2.48015873015873e-05
_C9 = 2.7557319223985893e-06
_C10 = 2.755731922398589e-07
_C11 = 2.505210838544172e-08
_C12 = 2.08767569878681e-09
_C13 = 1.6059043836821613e-10


@njit(inline="always", cache=True)
def vexp(x):
    """``exp(x)`` for float64, vectorisable, about 1 ulp (see the module docstring)."""
    xc = _CLAMP_LO if x < _CLAMP_LO else x        # NaN passes both selects unchanged
    xc = _CLAMP_HI if xc > _CLAMP_HI else xc
    t = fma(xc, _LOG2E, _SHIFTER)                # round(x / ln2) sits in the low bits of t
    kf = t - _SHIFTER
    r = fma(-kf, _LN2_HI, xc)
    r = fma(-kf, _LN2_LO, r)
    p = fma(r, _C13, _C12)
    p = fma(p, r, _C11)
    p = fma(p, r, _C10)
    p = fma(p, r, _C9)
    p = fma(p, r, _C8)
    p = fma(p, r, _C7)
    p = fma(p, r, _C6)
    p = fma(p, r, _C5)
    p = fma(p, r, _C4)
    p = fma(p, r, _C3)
    p = fma(p, r, _C2)
    p = fma(p, r, 1.0)
    p = fma(p, r, 1.0)                           # 1 + r (1 + r (1/2 + r (1/6 + ...)))
    k = bits_of_double(t) - _SHIFTER_BITS
    scale = double_from_bits((k + 1023) << 52)
    e = p * scale
    e = 0.0 if x < _UNDER else e
    e = _INF if x > _OVER else e
    return e
