// Shape and dtype checks shared by the CPU and CUDA FFI handlers. The Python
// layers check the same things at trace time with friendlier messages; these
// guard the handlers against any other caller.
#ifndef XLA_RNNT_CC_FFI_CHECKS_H_
#define XLA_RNNT_CC_FFI_CHECKS_H_

#include <cstdint>
#include <string>

#include "mutual_information.h"
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

// Derives (B, S, T, modified) from px [..., S, T+1|T], py [..., S+1, T] and
// boundary [..., 4], or says which operand has which unexpected shape. Any
// number of leading (batch) axes is accepted and flattened into B, which is
// how jax.vmap (vmap_method="broadcast_all") reaches the handler.
inline ffi::ErrorOr<MiSizes> MiCheckOperands(ffi::AnyBuffer px,
                                             ffi::AnyBuffer py,
                                             ffi::AnyBuffer boundary) {
  auto pxd = px.dimensions(), pyd = py.dimensions(), bd = boundary.dimensions();
  if (px.element_type() != py.element_type())
    return Invalid("px and py must have the same dtype");
  if (px.element_type() != ffi::DataType::F32 &&
      px.element_type() != ffi::DataType::F64)
    return Invalid("px and py must be float32 or float64");
  if (pxd.size() < 3 || pyd.size() != pxd.size() || bd.size() != pxd.size() - 1)
    return Invalid("expected px [B, S, T+1], py [B, S+1, T], boundary [B, 4]; got px " +
                   DimsString(pxd) + ", py " + DimsString(pyd) + ", boundary " +
                   DimsString(bd));
  const size_t lead = pxd.size() - 2;
  int64_t B = 1;
  for (size_t i = 0; i < lead; ++i) {
    if (pyd[i] != pxd[i] || bd[i] != pxd[i])
      return Invalid("px, py and boundary disagree on the batch axes: px " +
                     DimsString(pxd) + ", py " + DimsString(pyd) + ", boundary " +
                     DimsString(bd));
    B *= pxd[i];
  }
  const int64_t S = pyd[lead] - 1, T = pyd[lead + 1];
  if (S < 0 || pxd[lead] != S || (pxd[lead + 1] != T && pxd[lead + 1] != T + 1))
    return Invalid("expected px [B, S, T+1] or [B, S, T] for py [B, S+1, T] = " +
                   DimsString(pyd) + ", got px " + DimsString(pxd));
  if (boundary.element_type() != ffi::DataType::S32 || bd[lead] != 4)
    return Invalid("expected boundary int32 [B, 4], got " + DimsString(bd));
  return MiSizes{B, S, T, pxd[lead + 1] == T};
}

// Checks that a result has px's dtype and exactly `count` elements (its batch axes mirror
// the operands', so the element count is what the kernels rely on).
inline ffi::Error ExpectCount(const char* name, ffi::AnyBuffer result, int64_t count,
                              ffi::DataType dtype) {
  if (result.element_type() != dtype)
    return InvalidArgument(std::string("result ") + name + " must have the dtype of px");
  if (static_cast<int64_t>(result.element_count()) == count) return ffi::Error::Success();
  return InvalidArgument(std::string("result ") + name + " has shape " +
                         DimsString(result.dimensions()) + ", expected " +
                         std::to_string(count) + " elements");
}

inline int64_t LatticeSize(const MiSizes& sz) { return sz.B * (sz.S + 1) * (sz.T + 1); }

// scores [B] and the forward workspace p [B, S+1, T+1].
inline ffi::Error CheckForwardResults(const MiSizes& sz, ffi::DataType dtype,
                                      ffi::AnyBuffer scores, ffi::AnyBuffer p) {
  if (auto e = ExpectCount("scores", scores, sz.B, dtype); e.failure()) return e;
  return ExpectCount("p", p, LatticeSize(sz), dtype);
}

// px_grad and py_grad (px's and py's shapes) and the backward workspace g.
inline ffi::Error CheckGradResults(const MiSizes& sz, ffi::DataType dtype,
                                   ffi::AnyBuffer px_grad, ffi::AnyBuffer py_grad,
                                   ffi::AnyBuffer g) {
  if (auto e = ExpectCount("px_grad", px_grad, sz.B * sz.S * sz.px_cols(), dtype); e.failure())
    return e;
  if (auto e = ExpectCount("py_grad", py_grad, sz.B * (sz.S + 1) * sz.T, dtype); e.failure())
    return e;
  return ExpectCount("g", g, LatticeSize(sz), dtype);
}

}  // namespace xla_rnnt

#endif  // XLA_RNNT_CC_FFI_CHECKS_H_
