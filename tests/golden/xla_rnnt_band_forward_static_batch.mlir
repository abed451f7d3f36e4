module @ffi_xla_rnnt_band_forward attributes {mhlo.num_partitions = 1 : i32, mhlo.num_replicas = 1 : i32} {
  func.func public @main(%arg0: tensor<i32> {jax.global_constant = "_platform_index"}, %arg1: tensor<3x5x2xf32>, %arg2: tensor<3x5x2xf32>, %arg3: tensor<3x5xi32>, %arg4: tensor<3x4xi32>) -> (tensor<3xf32>, tensor<3x5x2xf32>, tensor<3xf32>) {
    %0:3 = stablehlo.custom_call @xla_rnnt_band_forward(%arg1, %arg2, %arg3, %arg4) {api_version = 4 : i32, backend_config = {S = 3 : i64, modified = false}, operand_layouts = [dense<[2, 1, 0]> : tensor<3xindex>, dense<[2, 1, 0]> : tensor<3xindex>, dense<[1, 0]> : tensor<2xindex>, dense<[1, 0]> : tensor<2xindex>], result_layouts = [dense<[0]> : tensor<1xindex>, dense<[2, 1, 0]> : tensor<3xindex>, dense<[0]> : tensor<1xindex>]} : (tensor<3x5x2xf32>, tensor<3x5x2xf32>, tensor<3x5xi32>, tensor<3x4xi32>) -> (tensor<3xf32>, tensor<3x5x2xf32>, tensor<3xf32>)
    return %0#0, %0#1, %0#2 : tensor<3xf32>, tensor<3x5x2xf32>, tensor<3xf32>
  }
}
