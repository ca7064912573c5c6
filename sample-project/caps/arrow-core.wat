;; arrow-core: exports arrow:core/array@0.1.0 and itself imports the
;; pylon-math cap (at 1.0.0; any 1.x provider satisfies it).
(component
  (import "pylon:math/ops@1.0.0" (instance $ops
    (export "add" (func (param "a" s64) (param "b" s64) (result s64)))))
  (core func $add (canon lower (func $ops "add")))
  (core instance $ops_core (export "add" (func $add)))
  (core module $impl
    (import "ops" "add" (func $add (param i64 i64) (result i64)))
    (func (export "sum-range") (param $n i64) (result i64)
      (local $i i64) (local $acc i64)
      (block $done
        (loop $next
          (br_if $done (i64.gt_s (local.get $i) (local.get $n)))
          (local.set $acc (call $add (local.get $acc) (local.get $i)))
          (local.set $i (i64.add (local.get $i) (i64.const 1)))
          (br $next)))
      (local.get $acc)))
  (core instance $impl (instantiate $impl (with "ops" (instance $ops_core))))
  (func $sum-range (param "n" s64) (result s64) (canon lift (core func $impl "sum-range")))
  (instance $array (export "sum-range" (func $sum-range)))
  (export "arrow:core/array@0.1.0" (instance $array)))
