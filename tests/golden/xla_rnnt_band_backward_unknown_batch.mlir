module @ffi_xla_rnnt_band_backward attributes {jax.uses_shape_polymorphism = true, mhlo.num_partitions = 1 : i32, mhlo.num_replicas = 1 : i32} {
  func.func public @main(%arg0: tensor<i32> {jax.global_constant = "_platform_index"}, %arg1: tensor<?x5xi32>, %arg2: tensor<?x4xi32>, %arg3: tensor<?x5x2xf64>, %arg4: tensor<?xf64>) -> (tensor<?x5x2xf64>, tensor<?x5x2xf64>) {
    %0 = stablehlo.get_dimension_size %arg1, dim = 0 : (tensor<?x5xi32>) -> tensor<i32>
    %1 = stablehlo.reshape %0 : (tensor<i32>) -> tensor<1xi32>
    %2 = stablehlo.constant dense<5> : tensor<1xi32>
    %3 = stablehlo.constant dense<2> : tensor<1xi32>
    %4 = stablehlo.concatenate %1, %2, %3, dim = 0 : (tensor<1xi32>, tensor<1xi32>, tensor<1xi32>) -> tensor<3xi32>
    %5 = stablehlo.reshape %0 : (tensor<i32>) -> tensor<1xi32>
    %6 = stablehlo.constant dense<5> : tensor<1xi32>
    %7 = stablehlo.constant dense<2> : tensor<1xi32>
    %8 = stablehlo.concatenate %5, %6, %7, dim = 0 : (tensor<1xi32>, tensor<1xi32>, tensor<1xi32>) -> tensor<3xi32>
    %9:2 = stablehlo.custom_call @xla_rnnt_band_backward(%arg1, %arg2, %arg3, %arg4, %4, %8) {api_version = 4 : i32, backend_config = {S = 3 : i64, modified = false}, indices_of_shape_operands = dense<[4, 5]> : tensor<2xi64>, operand_layouts = [dense<[1, 0]> : tensor<2xindex>, dense<[1, 0]> : tensor<2xindex>, dense<[2, 1, 0]> : tensor<3xindex>, dense<[0]> : tensor<1xindex>, dense<[0]> : tensor<1xindex>, dense<[0]> : tensor<1xindex>], result_layouts = [dense<[2, 1, 0]> : tensor<3xindex>, dense<[2, 1, 0]> : tensor<3xindex>]} : (tensor<?x5xi32>, tensor<?x4xi32>, tensor<?x5x2xf64>, tensor<?xf64>, tensor<3xi32>, tensor<3xi32>) -> (tensor<?x5x2xf64>, tensor<?x5x2xf64>)
    return %9#0, %9#1 : tensor<?x5x2xf64>, tensor<?x5x2xf64>
  }
}
