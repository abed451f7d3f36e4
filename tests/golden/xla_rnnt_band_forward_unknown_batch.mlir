module @ffi_xla_rnnt_band_forward attributes {jax.uses_shape_polymorphism = true, mhlo.num_partitions = 1 : i32, mhlo.num_replicas = 1 : i32} {
  func.func public @main(%arg0: tensor<i32> {jax.global_constant = "_platform_index"}, %arg1: tensor<?x5x2xf32>, %arg2: tensor<?x5x2xf32>, %arg3: tensor<?x5xi32>, %arg4: tensor<?x4xi32>) -> (tensor<?xf32>, tensor<?x5x2xf32>, tensor<?xf32>) {
    %0 = stablehlo.get_dimension_size %arg1, dim = 0 : (tensor<?x5x2xf32>) -> tensor<i32>
    %1 = stablehlo.reshape %0 : (tensor<i32>) -> tensor<1xi32>
    %2 = stablehlo.reshape %0 : (tensor<i32>) -> tensor<1xi32>
    %3 = stablehlo.constant dense<5> : tensor<1xi32>
    %4 = stablehlo.constant dense<2> : tensor<1xi32>
    %5 = stablehlo.concatenate %2, %3, %4, dim = 0 : (tensor<1xi32>, tensor<1xi32>, tensor<1xi32>) -> tensor<3xi32>
    %6 = stablehlo.reshape %0 : (tensor<i32>) -> tensor<1xi32>
    %7:3 = stablehlo.custom_call @xla_rnnt_band_forward(%arg1, %arg2, %arg3, %arg4, %1, %5, %6) {api_version = 4 : i32, backend_config = {S = 3 : i64, modified = false}, indices_of_shape_operands = dense<[4, 5, 6]> : tensor<3xi64>, operand_layouts = [dense<[2, 1, 0]> : tensor<3xindex>, dense<[2, 1, 0]> : tensor<3xindex>, dense<[1, 0]> : tensor<2xindex>, dense<[1, 0]> : tensor<2xindex>, dense<[0]> : tensor<1xindex>, dense<[0]> : tensor<1xindex>, dense<[0]> : tensor<1xindex>], result_layouts = [dense<[0]> : tensor<1xindex>, dense<[2, 1, 0]> : tensor<3xindex>, dense<[0]> : tensor<1xindex>]} : (tensor<?x5x2xf32>, tensor<?x5x2xf32>, tensor<?x5xi32>, tensor<?x4xi32>, tensor<1xi32>, tensor<3xi32>, tensor<1xi32>) -> (tensor<?xf32>, tensor<?x5x2xf32>, tensor<?xf32>)
    return %7#0, %7#1, %7#2 : tensor<?xf32>, tensor<?x5x2xf32>, tensor<?xf32>
  }
}
