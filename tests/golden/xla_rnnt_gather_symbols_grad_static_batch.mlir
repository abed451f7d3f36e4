module @ffi_xla_rnnt_gather_symbols_grad attributes {mhlo.num_partitions = 1 : i32, mhlo.num_replicas = 1 : i32} {
  func.func public @main(%arg0: tensor<i32> {jax.global_constant = "_platform_index"}, %arg1: tensor<3x5x7xf32>, %arg2: tensor<3x3xi32>, %arg3: tensor<3x3x5xf32>) -> (tensor<3x5x7xf32>, tensor<3x3xf32>) {
    %0:2 = stablehlo.custom_call @xla_rnnt_gather_symbols_grad(%arg1, %arg2, %arg3) {api_version = 4 : i32, backend_config = {}, operand_layouts = [dense<[2, 1, 0]> : tensor<3xindex>, dense<[1, 0]> : tensor<2xindex>, dense<[2, 1, 0]> : tensor<3xindex>], result_layouts = [dense<[2, 1, 0]> : tensor<3xindex>, dense<[1, 0]> : tensor<2xindex>]} : (tensor<3x5x7xf32>, tensor<3x3xi32>, tensor<3x3x5xf32>) -> (tensor<3x5x7xf32>, tensor<3x3xf32>)
    return %0#0, %0#1 : tensor<3x5x7xf32>, tensor<3x3xf32>
  }
}
