(component
  ;; a type taken from an imported instance, used by an exported function
  (type $tuple (tuple u8 u16))
  (import "dep:x/y" (instance $dep (export "pair" (type (eq $tuple)))))
  (alias export $dep "pair" (type $pair))

  ;; functions lifted here, with a record parameter and a type exported beside them
  (type $point (record (field "x" u32) (field "y" f64)))
  (core module $m
    (func (export "area") (param i32 f64) (result i32) local.get 0)
    (func (export "first") (param i32 i32) (result i32) local.get 0))
  (core instance $i (instantiate $m))
  (export $p "point" (type $point))
  (func $area (param "p" $p) (result u32) (canon lift (core func $i "area")))
  (instance $geo (export "point" (type $p)) (export "area" (func $area)))
  (export "my:geo/shapes@2.0.0" (instance $geo))
  (export "top-level" (func $area))
  (export $pe "pair" (type $pair))
  (func $first (param "p" $pe) (result u8) (canon lift (core func $i "first")))
  (export "first" (func $first) (func (param "p" $pe) (result u8)))

  ;; a core module, the one core sort a component exports
  (core module $empty)
  (export "empty-module" (core module $empty))

  ;; a nested component, instantiated, whose instance is exported
  (component $inner
    (core module $n (func (export "h") (result i32) i32.const 7))
    (core instance $ni (instantiate $n))
    (func $h (result u32) (canon lift (core func $ni "h")))
    (export "h" (func $h)))
  (instance $ci (instantiate $inner))
  (export "nested:inst/x@0.1.0" (instance $ci)))
