// Helpers compiled for both the host and the device, shared by the kernel
// headers (mutual_information.h, logsoftmax_gather.h).
#ifndef XLA_RNNT_CC_HOST_DEVICE_H_
#define XLA_RNNT_CC_HOST_DEVICE_H_

#include <limits>

#if defined(__CUDACC__)
#define XLA_RNNT_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define XLA_RNNT_HOST_DEVICE inline
#endif

namespace xla_rnnt {

template <typename Real>
XLA_RNNT_HOST_DEVICE Real NegInf() {
  return -std::numeric_limits<Real>::infinity();
}

}  // namespace xla_rnnt

#endif  // XLA_RNNT_CC_HOST_DEVICE_H_
