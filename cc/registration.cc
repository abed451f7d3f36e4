// The table of handlers this library exports, read by xla_rnnt/_native.py:
// JAX registers each entry through jax.ffi; TensorFlow has no Python API for
// that, so xla_rnnt_register_with() registers them into the FFI registry
// whose XLA_FFI_Api* TF's libraries hand out (see xla_rnnt/tf/_registry.py).
#include <string>

#include "cc/handlers.h"
#include "cc/targets.h"
#include "xla/ffi/api/c_api.h"

namespace {

struct HandlerEntry {
  const char* name;      // custom-call target name
  const char* platform;  // "Host" (CPU) or "CUDA", as XLA spells them
  XLA_FFI_Handler* handler;
};

constexpr HandlerEntry kHandlers[] = {
    {xla_rnnt::kMiForward, "Host", XlaRnntMiForwardCpu},
    {xla_rnnt::kMiForwardBackward, "Host", XlaRnntMiForwardBackwardCpu},
    {xla_rnnt::kMiBackward, "Host", XlaRnntMiBackwardCpu},
    {xla_rnnt::kLogsoftmaxGather, "Host", XlaRnntLogsoftmaxGatherCpu},
    {xla_rnnt::kLogsoftmaxGatherGrad, "Host", XlaRnntLogsoftmaxGatherGradCpu},
    {xla_rnnt::kGatherRowsGrad, "Host", XlaRnntGatherRowsGradCpu},
    {xla_rnnt::kGatherSymbolsGrad, "Host", XlaRnntGatherSymbolsGradCpu},
    {xla_rnnt::kBandForward, "Host", XlaRnntBandForwardCpu},
    {xla_rnnt::kBandForwardBackward, "Host", XlaRnntBandForwardBackwardCpu},
    {xla_rnnt::kBandBackward, "Host", XlaRnntBandBackwardCpu},
#ifdef XLA_RNNT_WITH_CUDA
    {xla_rnnt::kMiForward, "CUDA", XlaRnntMiForwardCuda},
    {xla_rnnt::kMiForwardBackward, "CUDA", XlaRnntMiForwardBackwardCuda},
    {xla_rnnt::kMiBackward, "CUDA", XlaRnntMiBackwardCuda},
    {xla_rnnt::kLogsoftmaxGather, "CUDA", XlaRnntLogsoftmaxGatherCuda},
    {xla_rnnt::kLogsoftmaxGatherGrad, "CUDA", XlaRnntLogsoftmaxGatherGradCuda},
    {xla_rnnt::kGatherRowsGrad, "CUDA", XlaRnntGatherRowsGradCuda},
    {xla_rnnt::kGatherSymbolsGrad, "CUDA", XlaRnntGatherSymbolsGradCuda},
    {xla_rnnt::kBandForward, "CUDA", XlaRnntBandForwardCuda},
    {xla_rnnt::kBandForwardBackward, "CUDA", XlaRnntBandForwardBackwardCuda},
    {xla_rnnt::kBandBackward, "CUDA", XlaRnntBandBackwardCuda},
#endif
};
constexpr int kNumHandlers = sizeof(kHandlers) / sizeof(kHandlers[0]);

std::string last_error;  // guarded by the Python caller (import lock)

// An error's text through whichever call the FFI headers declare: API 0.2
// (TensorFlow 2.21) has XLA_FFI_Error_GetMessage, later ones (0.4 in jaxlib
// 0.11, 0.5 in 0.12) XLA_FFI_Error_GetDetails in its place. The int/long
// overloads prefer the newer call; the Args type is deduced from the member,
// so neither spelling must exist for the file to compile.
template <typename Args>
std::string ReadError(void (*get)(Args*), XLA_FFI_Error* error) {
  Args args{};
  args.struct_size = sizeof(Args);  // >= the header's STRUCT_SIZE
  args.error = error;
  get(&args);
  return args.message ? args.message : "";
}

template <typename Api>
auto ErrorText(const Api* api, XLA_FFI_Error* error, int)
    -> decltype(ReadError(api->XLA_FFI_Error_GetDetails, error)) {
  return ReadError(api->XLA_FFI_Error_GetDetails, error);
}

template <typename Api>
auto ErrorText(const Api* api, XLA_FFI_Error* error, long)
    -> decltype(ReadError(api->XLA_FFI_Error_GetMessage, error)) {
  return ReadError(api->XLA_FFI_Error_GetMessage, error);
}

}  // namespace

extern "C" {

int xla_rnnt_num_handlers() { return kNumHandlers; }
const char* xla_rnnt_handler_name(int i) { return kHandlers[i].name; }
const char* xla_rnnt_handler_platform(int i) { return kHandlers[i].platform; }
void* xla_rnnt_handler(int i) { return reinterpret_cast<void*>(kHandlers[i].handler); }
int xla_rnnt_ffi_api_version() { return XLA_FFI_API_MAJOR * 1000 + XLA_FFI_API_MINOR; }

// Registers every handler into `api`'s registry. Returns nullptr on success,
// else the runtime's message for the first handler it refused.
const char* xla_rnnt_register_with(const XLA_FFI_Api* api) {
  for (const HandlerEntry& h : kHandlers) {
    XLA_FFI_Handler_Register_Args args;
    args.struct_size = XLA_FFI_Handler_Register_Args_STRUCT_SIZE;
    args.extension_start = nullptr;
    args.name = XLA_FFI_ByteSpan{h.name, std::char_traits<char>::length(h.name)};
    args.platform = XLA_FFI_ByteSpan{h.platform, std::char_traits<char>::length(h.platform)};
    args.bundle = XLA_FFI_Handler_Bundle{nullptr, nullptr, nullptr, h.handler};
    args.traits = 0;
    if (XLA_FFI_Error* error = api->XLA_FFI_Handler_Register(&args)) {
      last_error = std::string(h.name) + " on " + h.platform + ": " + ErrorText(api, error, 0);
      XLA_FFI_Error_Destroy_Args destroy;
      destroy.struct_size = XLA_FFI_Error_Destroy_Args_STRUCT_SIZE;
      destroy.extension_start = nullptr;
      destroy.error = error;
      api->XLA_FFI_Error_Destroy(&destroy);
      return last_error.c_str();
    }
  }
  return nullptr;
}

}  // extern "C"
