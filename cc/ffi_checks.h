// Shape and dtype checks shared by the CPU and CUDA FFI handlers. The Python
// layers check the same things at trace time with friendlier messages; these
// guard the handlers against any other caller.
#ifndef XLA_RNNT_CC_FFI_CHECKS_H_
#define XLA_RNNT_CC_FFI_CHECKS_H_

#include <cstdint>
#include <string>
#include <tuple>
#include <utility>

#include "cc/band_recursion.h"
#include "cc/gather_rows_grad.h"
#include "cc/gather_symbols_grad.h"
#include "cc/logsoftmax_gather.h"
#include "cc/mutual_information.h"
#include "xla/ffi/api/ffi.h"

namespace xla_rnnt {

namespace ffi = ::xla::ffi;

inline std::string DimsString(ffi::AnyBuffer::Dimensions dims) {
  std::string out = "[";
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i) out += ", ";
    out += std::to_string(dims[i]);
  }
  return out + "]";
}

inline ffi::Error InvalidArgument(const std::string& message) {
  return ffi::Error(ffi::ErrorCode::kInvalidArgument, "xla_rnnt: " + message);
}

inline ffi::Unexpected<ffi::Error> Invalid(const std::string& message) {
  return ffi::Unexpected<ffi::Error>(InvalidArgument(message));
}

// A dtype as error messages name it; the XLA enum value where unnamed here.
inline std::string DataTypeName(ffi::DataType dtype) {
  switch (dtype) {
    case ffi::DataType::F16:
      return "float16";
    case ffi::DataType::BF16:
      return "bfloat16";
    case ffi::DataType::F32:
      return "float32";
    case ffi::DataType::F64:
      return "float64";
    case ffi::DataType::S32:
      return "int32";
    case ffi::DataType::S64:
      return "int64";
    default:
      return "XLA_FFI_DataType " + std::to_string(static_cast<int>(dtype));
  }
}

// "<what> must have the dtype of <like> (<want>), got <got>".
inline std::string DtypeMismatch(const std::string& what, ffi::DataType got,
                                 const std::string& like, ffi::DataType want) {
  return what + " must have the dtype of " + like + " (" + DataTypeName(want) + "), got " +
         DataTypeName(got);
}

// "<what> must be float32 or float64, got <got>".
inline std::string NotReal(const std::string& what, ffi::DataType got) {
  return what + " must be float32 or float64, got " + DataTypeName(got);
}

// "<what> must be int32, got <got>".
inline std::string NotInt32(const std::string& what, ffi::DataType got) {
  return what + " must be int32, got " + DataTypeName(got);
}

// The C++ type of a float dtype, as DispatchReal hands it to its callback.
template <typename T>
struct RealTag {
  using type = T;
};

// Calls fn(RealTag<float>{}) for float32, fn(RealTag<double>{}) for float64
// and returns its error, so each handler names its kernel template once:
//   return DispatchReal(dtype, [&](auto tag) {
//     using Real = typename decltype(tag)::type;
//     ...
//   });
// The operand checks admit these two dtypes only; the error is a safety net.
template <typename Fn>
ffi::Error DispatchReal(ffi::DataType dtype, Fn&& fn) {
  switch (dtype) {
    case ffi::DataType::F32:
      return fn(RealTag<float>{});
    case ffi::DataType::F64:
      return fn(RealTag<double>{});
    default:
      return InvalidArgument("expected float32 or float64, got " + DataTypeName(dtype));
  }
}

// Derives (B, S, T, modified) from px [..., S, T+1|T], py [..., S+1, T] and
// boundary [..., 4], or says which operand has which unexpected shape. Any
// number of leading (batch) axes is accepted and flattened into B: jax.vmap
// reaches the handler through a custom_vmap rule that broadcasts every
// operand to the mapped axis (in front) and calls the handler again.
inline ffi::ErrorOr<MiSizes> MiCheckOperands(ffi::AnyBuffer px, ffi::AnyBuffer py,
                                             ffi::AnyBuffer boundary) {
  auto pxd = px.dimensions(), pyd = py.dimensions(), bd = boundary.dimensions();
  if (px.element_type() != ffi::DataType::F32 && px.element_type() != ffi::DataType::F64)
    return Invalid(NotReal("px", px.element_type()));
  if (py.element_type() != px.element_type())
    return Invalid(DtypeMismatch("py", py.element_type(), "px", px.element_type()));
  if (pxd.size() < 3 || pyd.size() != pxd.size() || bd.size() != pxd.size() - 1)
    return Invalid("expected px [B, S, T+1], py [B, S+1, T], boundary [B, 4]; got px " +
                   DimsString(pxd) + ", py " + DimsString(pyd) + ", boundary " + DimsString(bd));
  const size_t lead = pxd.size() - 2;
  int64_t B = 1;
  for (size_t i = 0; i < lead; ++i) {
    if (pyd[i] != pxd[i] || bd[i] != pxd[i])
      return Invalid("px, py and boundary disagree on the batch axes: px " + DimsString(pxd) +
                     ", py " + DimsString(pyd) + ", boundary " + DimsString(bd));
    B *= pxd[i];
  }
  const int64_t S = pyd[lead] - 1, T = pyd[lead + 1];
  if (S < 0 || pxd[lead] != S || (pxd[lead + 1] != T && pxd[lead + 1] != T + 1))
    return Invalid("expected px [B, S, T+1] or [B, S, T] for py [B, S+1, T] = " + DimsString(pyd) +
                   ", got px " + DimsString(pxd));
  if (boundary.element_type() != ffi::DataType::S32 || bd[lead] != 4)
    return Invalid("expected boundary int32 [B, 4], got " + DimsString(bd));
  return MiSizes{B, S, T, pxd[lead + 1] == T};
}

// Checks that a result has px's (or `like`'s) dtype and exactly `count` elements (its batch axes
// mirror the operands', so the element count is what the kernels rely on).
inline ffi::Error ExpectCount(const char* name, ffi::AnyBuffer result, int64_t count,
                              ffi::DataType dtype, const char* like = "px") {
  if (result.element_type() != dtype)
    return InvalidArgument(
        DtypeMismatch(std::string("result ") + name, result.element_type(), like, dtype));
  if (static_cast<int64_t>(result.element_count()) == count) return ffi::Error::Success();
  return InvalidArgument(std::string("result ") + name + " has shape " +
                         DimsString(result.dimensions()) + ", expected " + std::to_string(count) +
                         " elements");
}

inline int64_t LatticeSize(const MiSizes& sz) { return sz.B * (sz.S + 1) * (sz.T + 1); }

// scores [B] and the forward workspace p [B, S+1, T+1].
inline ffi::Error CheckForwardResults(const MiSizes& sz, ffi::DataType dtype, ffi::AnyBuffer scores,
                                      ffi::AnyBuffer p) {
  if (auto e = ExpectCount("scores", scores, sz.B, dtype); e.failure()) return e;
  return ExpectCount("p", p, LatticeSize(sz), dtype);
}

// px_grad and py_grad (px's and py's shapes) and the backward workspace g
// [B, handoff_rows, T+1].
inline ffi::Error CheckGradResults(const MiSizes& sz, ffi::DataType dtype, ffi::AnyBuffer px_grad,
                                   ffi::AnyBuffer py_grad, ffi::AnyBuffer g) {
  if (auto e = ExpectCount("px_grad", px_grad, sz.B * sz.S * sz.px_cols(), dtype); e.failure())
    return e;
  if (auto e = ExpectCount("py_grad", py_grad, sz.B * (sz.S + 1) * sz.T, dtype); e.failure())
    return e;
  return ExpectCount("g", g, sz.B * sz.handoff_rows() * (sz.T + 1), dtype);
}

// Derives (N, C, blank) from logits [..., C] and symbols [...] (the same
// leading axes, flattened into N rows), or says what is wrong.
inline ffi::ErrorOr<GatherSizes> GatherCheckOperands(ffi::AnyBuffer logits, ffi::AnyBuffer symbols,
                                                     int64_t blank) {
  auto ld = logits.dimensions(), sd = symbols.dimensions();
  if (logits.element_type() != ffi::DataType::F32 && logits.element_type() != ffi::DataType::F64)
    return Invalid(NotReal("logits", logits.element_type()));
  if (symbols.element_type() != ffi::DataType::S32)
    return Invalid(NotInt32("symbols", symbols.element_type()));
  bool same_lead = ld.size() >= 1 && sd.size() == ld.size() - 1;
  for (size_t i = 0; same_lead && i < sd.size(); ++i) same_lead = sd[i] == ld[i];
  if (!same_lead)
    return Invalid(
        "expected logits [..., C] and symbols [...] with the same leading axes, "
        "got logits " +
        DimsString(ld) + ", symbols " + DimsString(sd));
  const int64_t C = ld[ld.size() - 1];
  if (blank < 0 || blank >= C)
    return Invalid("blank = " + std::to_string(blank) + " must be in [0, C = " + std::to_string(C) +
                   ")");
  return GatherSizes{static_cast<int64_t>(symbols.element_count()), C, blank};
}

// One [N] array with the logits' dtype (operand or result), by name.
inline ffi::Error ExpectRows(const char* name, ffi::AnyBuffer buffer, const GatherSizes& sz,
                             ffi::DataType dtype) {
  if (buffer.element_type() != dtype)
    return InvalidArgument(DtypeMismatch(name, buffer.element_type(), "logits", dtype));
  if (static_cast<int64_t>(buffer.element_count()) == sz.N) return ffi::Error::Success();
  return InvalidArgument(std::string(name) + " has shape " + DimsString(buffer.dimensions()) +
                         ", expected " + std::to_string(sz.N) + " elements");
}

// The forward's results px, py and normalizers, [N] each.
inline ffi::Error CheckGatherResults(const GatherSizes& sz, ffi::DataType dtype, ffi::AnyBuffer px,
                                     ffi::AnyBuffer py, ffi::AnyBuffer normalizers) {
  if (auto e = ExpectRows("px", px, sz, dtype); e.failure()) return e;
  if (auto e = ExpectRows("py", py, sz, dtype); e.failure()) return e;
  return ExpectRows("normalizers", normalizers, sz, dtype);
}

// The backward's normalizers and cotangents ([N] each) and logits_grad [N, C].
inline ffi::Error CheckGatherGradBuffers(const GatherSizes& sz, ffi::DataType dtype,
                                         ffi::AnyBuffer normalizers, ffi::AnyBuffer px_grad,
                                         ffi::AnyBuffer py_grad, ffi::AnyBuffer logits_grad) {
  if (auto e = ExpectRows("normalizers", normalizers, sz, dtype); e.failure()) return e;
  if (auto e = ExpectRows("px_grad", px_grad, sz, dtype); e.failure()) return e;
  if (auto e = ExpectRows("py_grad", py_grad, sz, dtype); e.failure()) return e;
  return ExpectCount("logits_grad", logits_grad, sz.N * sz.C, dtype, "logits");
}

// The operands of a gather's gradient: x real, g of x's dtype, idx int32.
inline ffi::Error GatherGradDtypes(ffi::AnyBuffer x, ffi::AnyBuffer idx, ffi::AnyBuffer g) {
  if (x.element_type() != ffi::DataType::F32 && x.element_type() != ffi::DataType::F64)
    return InvalidArgument(NotReal("x", x.element_type()));
  if (g.element_type() != x.element_type())
    return InvalidArgument(DtypeMismatch("g", g.element_type(), "x", x.element_type()));
  if (idx.element_type() != ffi::DataType::S32)
    return InvalidArgument(NotInt32("idx", idx.element_type()));
  return ffi::Error::Success();
}

// B, the product of x's first `lead` axes, where idx and g start with the
// same ones; else -1.
inline int64_t SharedBatch(ffi::AnyBuffer::Dimensions xd, ffi::AnyBuffer::Dimensions id,
                           ffi::AnyBuffer::Dimensions gd, size_t lead) {
  int64_t B = 1;
  for (size_t i = 0; i < lead; ++i) {
    if (id[i] != xd[i] || gd[i] != xd[i]) return -1;
    B *= xd[i];
  }
  return B;
}

// Derives (B, N, Q, T, R) from x [..., N, Q], idx [..., T, R] int32 and
// g [..., T, R, Q] (the same leading axes, flattened into B), or says what is
// wrong.
inline ffi::ErrorOr<RowsGradSizes> RowsGradCheckOperands(ffi::AnyBuffer x, ffi::AnyBuffer idx,
                                                         ffi::AnyBuffer g) {
  if (auto e = GatherGradDtypes(x, idx, g); e.failure())
    return ffi::Unexpected<ffi::Error>(std::move(e));
  auto xd = x.dimensions(), id = idx.dimensions(), gd = g.dimensions();
  const std::string got =
      "got x " + DimsString(xd) + ", idx " + DimsString(id) + ", g " + DimsString(gd);
  if (xd.size() < 2 || id.size() != xd.size() || gd.size() != xd.size() + 1)
    return Invalid("expected x [..., N, Q], idx [..., T, R], g [..., T, R, Q]; " + got);
  const size_t lead = xd.size() - 2;
  const int64_t B = SharedBatch(xd, id, gd, lead);
  if (B < 0) return Invalid("x, idx and g disagree on the batch axes; " + got);
  const int64_t N = xd[lead], Q = xd[lead + 1], T = id[lead], R = id[lead + 1];
  if (gd[lead] != T || gd[lead + 1] != R || gd[lead + 2] != Q)
    return Invalid("expected g [..., T, R, Q] for idx [..., T, R] and x [..., N, Q]; " + got);
  return RowsGradSizes{B, N, Q, T, R};
}

// The operands as above and the results x_grad (x's shape) and the workspace
// sorted [B, R]: the sizes, or what is wrong.
inline ffi::ErrorOr<RowsGradSizes> RowsGradCheck(ffi::AnyBuffer x, ffi::AnyBuffer idx,
                                                 ffi::AnyBuffer g, ffi::AnyBuffer x_grad,
                                                 ffi::AnyBuffer sorted) {
  auto sizes = RowsGradCheckOperands(x, idx, g);
  if (sizes.has_error()) return sizes;
  const RowsGradSizes sz = sizes.value();
  for (auto [name, buffer, count] : {std::tuple{"x_grad", x_grad, sz.B * sz.N * sz.Q},
                                     std::tuple{"sorted", sorted, sz.B * sz.R}})
    if (auto e = ExpectCount(name, buffer, count, x.element_type(), "x"); e.failure())
      return ffi::Unexpected<ffi::Error>(std::move(e));
  return sz;
}

// Derives (B, T, V, S) from x [..., T, V], idx [..., S] int32 and g
// [..., S, T] (the same leading axes, flattened into B), and checks the
// results x_grad (x's shape) and the workspace links [..., S]; or says what is
// wrong.
inline ffi::ErrorOr<SymbolsGradSizes> SymbolsGradCheck(ffi::AnyBuffer x, ffi::AnyBuffer idx,
                                                       ffi::AnyBuffer g, ffi::AnyBuffer x_grad,
                                                       ffi::AnyBuffer links) {
  if (auto e = GatherGradDtypes(x, idx, g); e.failure())
    return ffi::Unexpected<ffi::Error>(std::move(e));
  auto xd = x.dimensions(), id = idx.dimensions(), gd = g.dimensions();
  const std::string got =
      "got x " + DimsString(xd) + ", idx " + DimsString(id) + ", g " + DimsString(gd);
  if (xd.size() < 2 || id.size() + 1 != xd.size() || gd.size() != xd.size())
    return Invalid("expected x [..., T, V], idx [..., S], g [..., S, T]; " + got);
  const size_t lead = xd.size() - 2;
  const int64_t B = SharedBatch(xd, id, gd, lead);
  if (B < 0) return Invalid("x, idx and g disagree on the batch axes; " + got);
  const SymbolsGradSizes sz{B, xd[lead], xd[lead + 1], id[lead]};
  if (gd[lead] != sz.S || gd[lead + 1] != sz.T)
    return Invalid("expected g [..., S, T] for idx [..., S] and x [..., T, V]; " + got);
  // The links are integers held in x's dtype: exact below 2^24 in float32.
  if (sz.S >= (int64_t{1} << 24))
    return Invalid("idx [..., S] with S = " + std::to_string(sz.S) + " >= 2^24; " + got);
  for (auto [name, buffer, count] :
       {std::tuple{"x_grad", x_grad, sz.B * sz.T * sz.V}, std::tuple{"links", links, sz.B * sz.S}})
    if (auto e = ExpectCount(name, buffer, count, x.element_type(), "x"); e.failure())
      return ffi::Unexpected<ffi::Error>(std::move(e));
  return sz;
}

// On the host the boundary can be read without a sync, so the CPU handlers
// raise an error for bad rows (the CUDA handlers document their own behaviour).
inline ffi::Error CheckBoundaryRows(const int32_t* boundary, int64_t B, int64_t S, int64_t T) {
  for (int64_t b = 0; b < B; ++b) {
    const int32_t* row = boundary + 4 * b;
    if (!BoundaryValid(row, S, T))
      return InvalidArgument("boundary[" + std::to_string(b) + "] = (" + std::to_string(row[0]) +
                             ", " + std::to_string(row[1]) + ", " + std::to_string(row[2]) + ", " +
                             std::to_string(row[3]) +
                             ") must satisfy 0 <= s_begin <= s_end <= S = " + std::to_string(S) +
                             " and 0 <= t_begin <= t_end <= T = " + std::to_string(T));
  }
  return ffi::Error::Success();
}

// starts [..., T] int32 and boundary [..., 4] int32 for the band of `band`
// ([..., T, R], named `name`): the leading axes flattened into B, the sizes.
inline ffi::ErrorOr<BandSizes> BandCheckWindows(const char* name, ffi::AnyBuffer band,
                                                ffi::AnyBuffer starts, ffi::AnyBuffer boundary,
                                                int64_t S, bool modified) {
  auto dd = band.dimensions(), sd = starts.dimensions(), bd = boundary.dimensions();
  const std::string got = std::string("got ") + name + " " + DimsString(dd) + ", starts " +
                          DimsString(sd) + ", boundary " + DimsString(bd);
  if (band.element_type() != ffi::DataType::F32 && band.element_type() != ffi::DataType::F64)
    return Invalid(NotReal(name, band.element_type()));
  for (auto [what, buffer] : {std::pair{"starts", starts}, std::pair{"boundary", boundary}})
    if (buffer.element_type() != ffi::DataType::S32)
      return Invalid(NotInt32(what, buffer.element_type()));
  if (dd.size() < 3 || sd.size() != dd.size() - 1 || bd.size() != dd.size() - 1)
    return Invalid(std::string("expected ") + name +
                   " [B, T, R], starts [B, T], boundary [B, 4]; " + got);
  const size_t lead = dd.size() - 2;
  int64_t B = 1;
  for (size_t i = 0; i < lead; ++i) {
    if (sd[i] != dd[i] || bd[i] != dd[i]) return Invalid("the batch axes disagree; " + got);
    B *= dd[i];
  }
  if (sd[lead] != dd[lead] || bd[lead] != 4)
    return Invalid(std::string("expected starts [B, T] and boundary [B, 4] for ") + name +
                   " [B, T, R]; " + got);
  if (S < 0) return Invalid("S = " + std::to_string(S) + " must be >= 0");
  return BandSizes{B, dd[lead], dd[lead + 1], S, modified};
}

// The band forward's operands px, py [..., T, R], starts, boundary.
inline ffi::ErrorOr<BandSizes> BandCheckOperands(ffi::AnyBuffer px, ffi::AnyBuffer py,
                                                 ffi::AnyBuffer starts, ffi::AnyBuffer boundary,
                                                 int64_t S, bool modified) {
  auto sizes = BandCheckWindows("px", px, starts, boundary, S, modified);
  if (sizes.has_error()) return sizes;
  if (py.element_type() != px.element_type())
    return Invalid(DtypeMismatch("py", py.element_type(), "px", px.element_type()));
  auto pxd = px.dimensions(), pyd = py.dimensions();
  bool same = pxd.size() == pyd.size();
  for (size_t i = 0; same && i < pxd.size(); ++i) same = pxd[i] == pyd[i];
  if (!same)
    return Invalid("py must have the shape of px: got px " + DimsString(pxd) + ", py " +
                   DimsString(pyd));
  return sizes;
}

// Band results: scores or final_split [B], band-shaped arrays [B, T, R].
inline ffi::Error ExpectBand(const char* name, ffi::AnyBuffer buffer, const BandSizes& sz,
                             ffi::DataType dtype, const char* like) {
  return ExpectCount(name, buffer, sz.B * sz.T * sz.R, dtype, like);
}
inline ffi::Error ExpectPerItem(const char* name, ffi::AnyBuffer buffer, const BandSizes& sz,
                                ffi::DataType dtype, const char* like) {
  return ExpectCount(name, buffer, sz.B, dtype, like);
}

// The band forward's results scores, split, final_split; the gradients.
inline ffi::Error BandForwardResults(const BandSizes& sz, ffi::DataType dtype,
                                     ffi::AnyBuffer scores, ffi::AnyBuffer split,
                                     ffi::AnyBuffer final_split) {
  if (auto e = ExpectPerItem("scores", scores, sz, dtype, "px"); e.failure()) return e;
  if (auto e = ExpectBand("split", split, sz, dtype, "px"); e.failure()) return e;
  return ExpectPerItem("final_split", final_split, sz, dtype, "px");
}

inline ffi::Error BandGradResults(const BandSizes& sz, ffi::DataType dtype, ffi::AnyBuffer px_grad,
                                  ffi::AnyBuffer py_grad, const char* like) {
  if (auto e = ExpectBand("px_grad", px_grad, sz, dtype, like); e.failure()) return e;
  return ExpectBand("py_grad", py_grad, sz, dtype, like);
}

}  // namespace xla_rnnt

#endif  // XLA_RNNT_CC_FFI_CHECKS_H_
