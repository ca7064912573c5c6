;; pylon-math: exports pylon:math/ops@1.2.0 (add, mul on s64).
(component
  (core module $impl
    (func (export "add") (param i64 i64) (result i64)
      (i64.add (local.get 0) (local.get 1)))
    (func (export "mul") (param i64 i64) (result i64)
      (i64.mul (local.get 0) (local.get 1))))
  (core instance $impl (instantiate $impl))
  (func $add (param "a" s64) (param "b" s64) (result s64) (canon lift (core func $impl "add")))
  (func $mul (param "a" s64) (param "b" s64) (result s64) (canon lift (core func $impl "mul")))
  (instance $ops (export "add" (func $add)) (export "mul" (func $mul)))
  (export "pylon:math/ops@1.2.0" (instance $ops)))
