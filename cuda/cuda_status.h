// A cudaError_t as the FFI error the CUDA handlers return.
#ifndef XLA_RNNT_CUDA_CUDA_STATUS_H_
#define XLA_RNNT_CUDA_CUDA_STATUS_H_

#include <cuda_runtime_api.h>

#include <string>

#include "cc/ffi_checks.h"

namespace xla_rnnt {

inline ffi::Error CudaStatus(cudaError_t err, const char* what) {
  if (err == cudaSuccess) return ffi::Error::Success();
  return ffi::Error(ffi::ErrorCode::kInternal,
                    std::string("xla_rnnt: ") + what + ": " + cudaGetErrorString(err));
}

}  // namespace xla_rnnt

#endif  // XLA_RNNT_CUDA_CUDA_STATUS_H_
