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
it propagates NaN, returns ``inf`` above 709.78 and ``0`` below -745.13.
Results in the subnormal range (``x < -708.4``) are rounded twice, so they may
be off by one unit of the subnormal spacing.
"""

from __future__ import annotations

from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

__all__ = ["fma", "double_from_bits", "bits_of_double", "vexp"]


@intrinsic
def fma(typingctx, a, b, c):
    """``a * b + c`` rounded once (``llvm.fma.f64``)."""
    sig = types.float64(types.float64, types.float64, types.float64)

    def codegen(context, builder, signature, args):
        dbl = ir.DoubleType()
        fnty = ir.FunctionType(dbl, [dbl, dbl, dbl])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.fma.f64")
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
_CLAMP_LO = -745.2                     # keeps k within the int range used below
_CLAMP_HI = 709.8
_TWO_64 = 18446744073709551616.0
_TWO_M64 = 5.421010862427522e-20
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
    # near the ends of the range 2**k is not a normal float: scale in two steps
    low = k < -1000
    high = k > 1000
    k = k + 64 if low else k
    k = k - 64 if high else k
    post = _TWO_M64 if low else 1.0
    post = _TWO_64 if high else post
    e = (p * double_from_bits((k + 1023) << 52)) * post
    e = 0.0 if x < _UNDER else e
    e = _INF if x > _OVER else e
    return e



# ---------------------------------------------------------------------------
# explicit SIMD: operations on LANES consecutive float64 of a C-contiguous array
# ---------------------------------------------------------------------------
LANES = 8
"""Width of a lane vector (one AVX-512 register of float64, two AVX2 ones)."""

_DBL = ir.DoubleType()
_I64 = ir.IntType(64)
_VD = ir.VectorType(_DBL, LANES)
_VI = ir.VectorType(_I64, LANES)


def _data_ptr(context, builder, arrty, arr):
    return context.make_array(arrty)(context, builder, arr).data


def _vptr(context, builder, arrty, arr, idx):
    p = builder.gep(_data_ptr(context, builder, arrty, arr), [idx], inbounds=True)
    return builder.bitcast(p, _VD.as_pointer())


def _vload(context, builder, arrty, arr, idx):
    return builder.load(_vptr(context, builder, arrty, arr, idx), align=8, typ=_VD)


def _vstore(context, builder, arrty, arr, idx, value):
    builder.store(value, _vptr(context, builder, arrty, arr, idx), align=8)


def _splat_const(x):
    return ir.Constant(_VD, [float(x)] * LANES)


def _splat(builder, scalar):
    v = ir.Constant(_VD, ir.Undefined)
    for k in range(LANES):
        v = builder.insert_element(v, scalar, ir.Constant(ir.IntType(32), k))
    return v


def _vfma(builder, a, b, c):
    fnty = ir.FunctionType(_VD, [_VD, _VD, _VD])
    fn = cgutils.get_or_insert_function(builder.module, fnty, f"llvm.fma.v{LANES}f64")
    return builder.call(fn, [a, b, c])


def _vsel_lt(builder, a, b, x, y):
    """``x if a < b else y`` lane-wise (ordered compare: NaN gives y)."""
    return builder.select(builder.fcmp_ordered("<", a, b), x, y)


def _reduce_poly(builder, xc):
    """The shared core of :func:`_vexp_ir` and :func:`_vexp_sat_ir` on clamped lanes ``xc``:
    ``k`` (int lanes) and the polynomial ``p ~ exp(r)`` with ``xc = k ln2 + r``."""
    t = _vfma(builder, xc, _splat_const(_LOG2E), _splat_const(_SHIFTER))
    kf = builder.fsub(t, _splat_const(_SHIFTER))
    nkf = builder.fneg(kf)
    r = _vfma(builder, nkf, _splat_const(_LN2_HI), xc)
    r = _vfma(builder, nkf, _splat_const(_LN2_LO), r)
    p = _vfma(builder, r, _splat_const(_C13), _splat_const(_C12))
    for c in (_C11, _C10, _C9, _C8, _C7, _C6, _C5, _C4, _C3, _C2, 1.0, 1.0):
        p = _vfma(builder, p, r, _splat_const(c))
    k = builder.sub(builder.bitcast(t, _VI), ir.Constant(_VI, [_SHIFTER_BITS] * LANES))
    return k, p


def _vexp_ir(builder, x):
    """IR of :func:`vexp` on a lane vector (same operations, same bits)."""
    xc = _vsel_lt(builder, x, _splat_const(_CLAMP_LO), _splat_const(_CLAMP_LO), x)
    xc = _vsel_lt(builder, _splat_const(_CLAMP_HI), xc, _splat_const(_CLAMP_HI), xc)
    k, p = _reduce_poly(builder, xc)
    low = builder.icmp_signed("<", k, ir.Constant(_VI, [-1000] * LANES))
    high = builder.icmp_signed(">", k, ir.Constant(_VI, [1000] * LANES))
    k = builder.select(low, builder.add(k, ir.Constant(_VI, [64] * LANES)), k)
    k = builder.select(high, builder.sub(k, ir.Constant(_VI, [64] * LANES)), k)
    post = builder.select(low, _splat_const(_TWO_M64), _splat_const(1.0))
    post = builder.select(high, _splat_const(_TWO_64), post)
    bits = builder.shl(builder.add(k, ir.Constant(_VI, [1023] * LANES)),
                       ir.Constant(_VI, [52] * LANES))
    e = builder.fmul(builder.fmul(p, builder.bitcast(bits, _VD)), post)
    e = _vsel_lt(builder, x, _splat_const(_UNDER), _splat_const(0.0), e)
    e = _vsel_lt(builder, _splat_const(_OVER), x, _splat_const(_INF), e)
    return e


_SAT_LO = -708.0                       # 2**k stays a normal float: k >= -1021
_SAT_HI = 709.8                        # k <= 1024; k = 1024 gives the bits of inf


def _vexp_sat_ir(builder, x):
    """``exp(x)`` for the activations, where only ``1 / (1 + exp(x))``-like uses follow.

    The same reduction and polynomial as :func:`_vexp_ir`, so the same bits for
    ``-708 <= x <= 709.43``; without its two-step scaling at the ends of the range:
    below -708 the argument is clamped (``exp(-708) = 3e-308`` where the exact value
    is smaller: ``1 + e`` rounds to 1 either way), and above 709.43 the result is
    ``inf`` (the exact value is below 1.8e308: ``1 / (1 + e)`` is 0 instead of a
    subnormal below 6e-309). NaN propagates. Eleven vector operations fewer.
    """
    xc = _vsel_lt(builder, x, _splat_const(_SAT_LO), _splat_const(_SAT_LO), x)
    xc = _vsel_lt(builder, _splat_const(_SAT_HI), xc, _splat_const(_SAT_HI), xc)
    k, p = _reduce_poly(builder, xc)
    bits = builder.shl(builder.add(k, ir.Constant(_VI, [1023] * LANES)),
                       ir.Constant(_VI, [52] * LANES))
    return builder.fmul(p, builder.bitcast(bits, _VD))


@intrinsic
def vcopy(typingctx, dst, i, src, j):
    """``dst[i:i+L] = src[j:j+L]``."""
    sig = types.void(dst, types.intp, src, types.intp)

    def codegen(context, builder, sg, a):
        v = _vload(context, builder, sg.args[2], a[2], a[3])
        _vstore(context, builder, sg.args[0], a[0], a[1], v)
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def vfill(typingctx, dst, i, c):
    """``dst[i:i+L] = c``."""
    sig = types.void(dst, types.intp, types.float64)

    def codegen(context, builder, sg, a):
        _vstore(context, builder, sg.args[0], a[0], a[1], _splat(builder, a[2]))
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def vfma_s(typingctx, dst, i, s, src, j):
    """``dst[i:i+L] = fma(s, src[j:j+L], dst[i:i+L])`` for a scalar ``s``."""
    sig = types.void(dst, types.intp, types.float64, src, types.intp)

    def codegen(context, builder, sg, a):
        d = _vload(context, builder, sg.args[0], a[0], a[1])
        v = _vload(context, builder, sg.args[3], a[3], a[4])
        _vstore(context, builder, sg.args[0], a[0], a[1], _vfma(builder, _splat(builder, a[2]), v, d))
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def vfma_v(typingctx, dst, i, x, ix, y, iy):
    """``dst[i:i+L] = fma(x[ix:ix+L], y[iy:iy+L], dst[i:i+L])``."""
    sig = types.void(dst, types.intp, x, types.intp, y, types.intp)

    def codegen(context, builder, sg, a):
        d = _vload(context, builder, sg.args[0], a[0], a[1])
        u = _vload(context, builder, sg.args[2], a[2], a[3])
        v = _vload(context, builder, sg.args[4], a[4], a[5])
        _vstore(context, builder, sg.args[0], a[0], a[1], _vfma(builder, u, v, d))
        return context.get_dummy_value()

    return sig, codegen


def _lanewise(name, combine, doc):
    """An intrinsic ``name(dst, i, src, j)``: ``dst[i:i+L] = combine(dst lanes, src lanes)``.

    One definition for every in-place, lane-by-lane binary operation; ``combine``
    receives the IR builder and the two vectors.
    """

    def impl(typingctx, dst, i, src, j):
        sig = types.void(dst, types.intp, src, types.intp)

        def codegen(context, builder, sg, a):
            d = _vload(context, builder, sg.args[0], a[0], a[1])
            v = _vload(context, builder, sg.args[2], a[2], a[3])
            _vstore(context, builder, sg.args[0], a[0], a[1], combine(builder, d, v))
            return context.get_dummy_value()

        return sig, codegen

    impl.__name__ = impl.__qualname__ = name
    impl.__doc__ = doc
    return intrinsic(impl)


vadd = _lanewise("vadd", lambda b, d, v: b.fadd(d, v), "``dst[i:i+L] += src[j:j+L]``.")
vmul = _lanewise("vmul", lambda b, d, v: b.fmul(d, v), "``dst[i:i+L] *= src[j:j+L]``.")
vsub = _lanewise("vsub", lambda b, d, v: b.fsub(d, v), "``dst[i:i+L] -= src[j:j+L]``.")
vdiv = _lanewise("vdiv", lambda b, d, v: b.fdiv(d, v), "``dst[i:i+L] /= src[j:j+L]``.")
vsqacc = _lanewise("vsqacc", lambda b, d, v: b.fadd(d, b.fmul(v, v)),
                   "``dst[i:i+L] += src[j:j+L] * src[j:j+L]`` (product and sum rounded separately).")
vmax = _lanewise("vmax", lambda b, d, v: _vsel_lt(b, d, v, v, d),
                 "``dst = src if src > dst else dst`` lane-wise (a NaN in ``src`` is ignored).")
vsig_back = _lanewise(
    "vsig_back", lambda b, d, v: b.fmul(d, b.fmul(v, b.fsub(_splat_const(1.0), v))),
    "``dst[i:i+L] *= a * (1 - a)`` with ``a = src[j:j+L]`` (sigmoid derivative).")
vtanh_back = _lanewise(
    "vtanh_back", lambda b, d, v: b.fmul(d, b.fsub(_splat_const(1.0), b.fmul(v, v))),
    "``dst[i:i+L] *= 1 - a * a`` with ``a = src[j:j+L]`` (tanh derivative).")
vrelu_back = _lanewise(
    "vrelu_back",
    lambda b, d, v: b.fmul(d, _vsel_lt(b, _splat_const(0.0), v, _splat_const(1.0), _splat_const(0.0))),
    "``dst[i:i+L] *= 1[a > 0]`` with ``a = src[j:j+L]`` (relu derivative; ``a > 0`` iff ``z > 0``).")


@intrinsic
def vaddc(typingctx, dst, i, c):
    """``dst[i:i+L] += c`` for a scalar ``c``."""
    sig = types.void(dst, types.intp, types.float64)

    def codegen(context, builder, sg, a):
        d = _vload(context, builder, sg.args[0], a[0], a[1])
        _vstore(context, builder, sg.args[0], a[0], a[1], builder.fadd(d, _splat(builder, a[2])))
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def vrecip(typingctx, dst, i):
    """``dst[i:i+L] = 1 / dst[i:i+L]``."""
    sig = types.void(dst, types.intp)

    def codegen(context, builder, sg, a):
        d = _vload(context, builder, sg.args[0], a[0], a[1])
        _vstore(context, builder, sg.args[0], a[0], a[1], builder.fdiv(_splat_const(1.0), d))
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def vsigmoid(typingctx, dst, i):
    """``dst[i:i+L] = 1 / (1 + exp(-dst[i:i+L]))``."""
    sig = types.void(dst, types.intp)

    def codegen(context, builder, sg, a):
        d = _vload(context, builder, sg.args[0], a[0], a[1])
        e = _vexp_sat_ir(builder, builder.fneg(d))
        s = builder.fdiv(_splat_const(1.0), builder.fadd(_splat_const(1.0), e))
        _vstore(context, builder, sg.args[0], a[0], a[1], s)
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def vtanh(typingctx, dst, i):
    """``dst[i:i+L] = tanh(dst[i:i+L])`` as ``sign(z) (1 - 2 / (1 + exp(2 |z|)))``.

    Within a few ulp of 1 in absolute terms (as close as ``1 - 2/(1 + e)`` can be
    for small ``|z|``), and within about 1 ulp where ``|tanh z|`` is near 1.
    """
    sig = types.void(dst, types.intp)

    def codegen(context, builder, sg, a):
        d = _vload(context, builder, sg.args[0], a[0], a[1])
        neg = builder.fcmp_ordered("<", d, _splat_const(0.0))
        ad = builder.select(neg, builder.fneg(d), d)
        e = _vexp_sat_ir(builder, builder.fadd(ad, ad))
        q = builder.fdiv(_splat_const(2.0), builder.fadd(_splat_const(1.0), e))
        t = builder.fsub(_splat_const(1.0), q)
        _vstore(context, builder, sg.args[0], a[0], a[1], builder.select(neg, builder.fneg(t), t))
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def vrelu(typingctx, dst, i):
    """``dst[i:i+L] = max(dst[i:i+L], 0)`` (NaN stays NaN)."""
    sig = types.void(dst, types.intp)

    def codegen(context, builder, sg, a):
        d = _vload(context, builder, sg.args[0], a[0], a[1])
        neg = builder.fcmp_ordered("<=", d, _splat_const(0.0))
        _vstore(context, builder, sg.args[0], a[0], a[1], builder.select(neg, _splat_const(0.0), d))
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def vexp_diff(typingctx, dst, i, x, ix, m, im):
    """``dst[i:i+L] = exp(x[ix:ix+L] - m[im:im+L])``."""
    sig = types.void(dst, types.intp, x, types.intp, m, types.intp)

    def codegen(context, builder, sg, a):
        u = _vload(context, builder, sg.args[2], a[2], a[3])
        v = _vload(context, builder, sg.args[4], a[4], a[5])
        _vstore(context, builder, sg.args[0], a[0], a[1], _vexp_ir(builder, builder.fsub(u, v)))
        return context.get_dummy_value()

    return sig, codegen


def _eta_lanes(context, builder, arrty, arr):
    """The ``LANES`` learning rates of a block: ``arr[0:LANES]``, one per lane."""
    return _vload(context, builder, arrty, arr, ir.Constant(ir.IntType(64), 0))


@intrinsic
def vgd_update(typingctx, dst, i, g, j, eta, n):
    """``dst[i:i+L] = dst - eta * (g[j:j+L] / n)``, lane ``b`` at its own ``eta[b]``.

    ``eta`` is an array of ``LANES`` learning rates (one per lane; a run at one
    learning rate fills it with that value, so the bits of each lane are those of the
    scalar update). A lane with ``eta == 0`` keeps ``dst`` exactly (the identity map,
    as ``eta = 0`` is for a whole run).
    """
    sig = types.void(dst, types.intp, g, types.intp, eta, types.float64)

    def codegen(context, builder, sg, a):
        d = _vload(context, builder, sg.args[0], a[0], a[1])
        v = _vload(context, builder, sg.args[2], a[2], a[3])
        e = _eta_lanes(context, builder, sg.args[4], a[4])
        step = builder.fmul(e, builder.fdiv(v, _splat(builder, a[5])))
        still = builder.fcmp_ordered("==", e, _splat_const(0.0))
        _vstore(context, builder, sg.args[0], a[0], a[1], builder.select(still, d, builder.fsub(d, step)))
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def vgd_update_wd(typingctx, dst, i, g, j, eta, n, wd):
    """``dst[i:i+L] = dst - eta * (g[j:j+L] / n + wd * dst)`` (weight decay on a weight row),
    lane ``b`` at its own ``eta[b]`` (an array of ``LANES``; ``eta == 0`` keeps ``dst``)."""
    sig = types.void(dst, types.intp, g, types.intp, eta, types.float64, types.float64)

    def codegen(context, builder, sg, a):
        d = _vload(context, builder, sg.args[0], a[0], a[1])
        v = _vload(context, builder, sg.args[2], a[2], a[3])
        e = _eta_lanes(context, builder, sg.args[4], a[4])
        grad = builder.fadd(builder.fdiv(v, _splat(builder, a[5])), builder.fmul(_splat(builder, a[6]), d))
        step = builder.fmul(e, grad)
        still = builder.fcmp_ordered("==", e, _splat_const(0.0))
        _vstore(context, builder, sg.args[0], a[0], a[1], builder.select(still, d, builder.fsub(d, step)))
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def fetch_add(typingctx, arr, i, v):
    """Atomically ``old = arr[i]; arr[i] += v``; returns ``old`` (an int64 array: a work counter)."""
    sig = types.int64(arr, types.intp, types.int64)

    def codegen(context, builder, signature, args):
        ptr = builder.gep(_data_ptr(context, builder, signature.args[0], args[0]), [args[1]],
                          inbounds=True)
        return builder.atomic_rmw("add", ptr, args[2], "seq_cst")

    return sig, codegen


@intrinsic
def ld(typingctx, arr, i):
    """``arr.flat[i]`` of a C-contiguous array: no wraparound, no bounds check."""
    sig = arr.dtype(arr, types.intp)

    def codegen(context, builder, signature, args):
        ptr = builder.gep(_data_ptr(context, builder, signature.args[0], args[0]), [args[1]],
                          inbounds=True)
        return builder.load(ptr)

    return sig, codegen


@intrinsic
def st(typingctx, arr, i, v):
    """``arr.flat[i] = v`` of a C-contiguous array: no wraparound, no bounds check."""
    sig = types.void(arr, types.intp, arr.dtype)

    def codegen(context, builder, signature, args):
        ptr = builder.gep(_data_ptr(context, builder, signature.args[0], args[0]), [args[1]],
                          inbounds=True)
        builder.store(args[2], ptr)
        return context.get_dummy_value()

    return sig, codegen


# ---------------------------------------------------------------------------
# strided chains: a lane vector accumulated in a register over k = 0 .. n-1
# ---------------------------------------------------------------------------
# Each of these emits its own loop with the accumulator in an LLVM alloca that is
# promoted to a register: one load of the initial value, one store of the result, and
# only the operands are read from memory. Written with vfma_v one term at a time, the
# accumulator would go through memory on every term (the compiler cannot prove that the
# arrays do not alias). The terms are added in the order k = 0, 1, ..., n-1, each with
# one fused multiply-add, exactly as the one-term-at-a-time code does.
def _chain(context, builder, sg, a, scalar_x):
    """``dst[i] = init[j] + sum_k x[ix + k sx] * y[iy + k sy]`` (fma chain, k ascending)."""
    dst, i, init, j, x, ix, sx, y, iy, sy, n = a
    acc = cgutils.alloca_once(builder, _VD)
    builder.store(_vload(context, builder, sg.args[2], init, j), acc)
    xdata = _data_ptr(context, builder, sg.args[4], x)
    with cgutils.for_range(builder, n) as loop:
        k = loop.index
        xo = builder.add(ix, builder.mul(k, sx))
        if scalar_x:
            u = _splat(builder, builder.load(builder.gep(xdata, [xo], inbounds=True)))
        else:
            u = _vload(context, builder, sg.args[4], x, xo)
        v = _vload(context, builder, sg.args[7], y, builder.add(iy, builder.mul(k, sy)))
        builder.store(_vfma(builder, u, v, builder.load(acc)), acc)
    _vstore(context, builder, sg.args[0], dst, i, builder.load(acc))


@intrinsic
def vchain(typingctx, dst, i, init, j, x, ix, sx, y, iy, sy, n):
    """``dst[i:i+L] = init[j:j+L]`` then ``fma(x[ix+k*sx : +L], y[iy+k*sy : +L], dst)`` for k < n.

    Lane vectors at every index; the accumulator stays in a register.
    """
    ip = types.intp
    sig = types.void(dst, ip, init, ip, x, ip, ip, y, ip, ip, ip)

    def codegen(context, builder, sg, a):
        _chain(context, builder, sg, a, False)
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def vchain_s(typingctx, dst, i, init, j, x, ix, sx, y, iy, sy, n):
    """As :func:`vchain`, with ``x`` a scalar ``x.flat[ix + k*sx]`` broadcast to every lane."""
    ip = types.intp
    sig = types.void(dst, ip, init, ip, x, ip, ip, y, ip, ip, ip)

    def codegen(context, builder, sg, a):
        _chain(context, builder, sg, a, True)
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def vsum_into(typingctx, dst, i, y, iy, sy, n):
    """``dst[i:i+L] += y[iy + k*sy : +L]`` for k = 0 .. n-1 in order (register accumulator)."""
    ip = types.intp
    sig = types.void(dst, ip, y, ip, ip, ip)

    def codegen(context, builder, sg, a):
        dst, i, y, iy, sy, n = a
        acc = cgutils.alloca_once(builder, _VD)
        builder.store(_vload(context, builder, sg.args[0], dst, i), acc)
        with cgutils.for_range(builder, n) as loop:
            v = _vload(context, builder, sg.args[2], y, builder.add(iy, builder.mul(loop.index, sy)))
            builder.store(builder.fadd(builder.load(acc), v), acc)
        _vstore(context, builder, sg.args[0], dst, i, builder.load(acc))
        return context.get_dummy_value()

    return sig, codegen
