;; greeter: an endpoint provider (exports compose:dynlink/endpoint@0.1.0). No binding names it: the root
;; resolves it by id at run time through the host's compose:dynlink/linker and sends it opaque bytes.
;; Method "greet" answers "Hello, <payload>!"; any other method is an invalid-input error.
(component
  ;; sys:compose/types holds types only: the host has nothing to provide for it
  (import "sys:compose/types@1.0.0" (instance $types
    (type $code (variant
      (case "plan-invalid-schema") (case "plan-invalid-cbor") (case "plan-missing-field")
      (case "plan-invalid-graph") (case "plan-cycle-detected") (case "emit-missing-blob")
      (case "emit-invalid-digest") (case "emit-composition-failed") (case "emit-link-error")
      (case "exec-trap") (case "exec-timeout") (case "exec-resource-exhausted") (case "exec-capability-denied")
      (case "exec-missing-export") (case "blob-not-found") (case "blob-digest-mismatch") (case "blob-io-error")
      (case "trust-verification-failed") (case "trust-signature-invalid") (case "trust-certificate-expired")
      (case "trust-untrusted-source") (case "secret-not-found") (case "secret-access-denied")
      (case "secret-backend-error") (case "invalid-input") (case "internal-error") (case "not-implemented")))
    (export "error-code" (type $code-named (eq $code)))
    (type $error (record (field "code" $code-named) (field "message" string) (field "context" (option string))))
    (export "error" (type (eq $error)))))
  (alias export $types "error" (type $error))
  (core module $impl
    (memory (export "memory") 1)
    (global $heap (mut i32) (i32.const 1024))
    (data (i32.const 0) "Hello, ")
    (data (i32.const 16) "greet")
    (data (i32.const 32) "unknown method: the greeter answers greet")
    ;; a bump allocator: each resolution gets a store of its own, so nothing is ever freed
    (func $alloc (param $size i32) (param $align i32) (result i32)
      (local $at i32)
      (local.set $at (i32.and (i32.add (global.get $heap) (i32.sub (local.get $align) (i32.const 1)))
                              (i32.sub (i32.const 0) (local.get $align))))
      (global.set $heap (i32.add (local.get $at) (local.get $size)))
      (block $fits
        (br_if $fits (i32.le_u (global.get $heap) (i32.mul (memory.size) (i32.const 65536))))
        (br_if $fits (i32.ne (memory.grow (i32.add (i32.shr_u (i32.sub (global.get $heap)
          (i32.mul (memory.size) (i32.const 65536))) (i32.const 16)) (i32.const 1))) (i32.const -1)))
        unreachable)
      (local.get $at))
    (func (export "realloc") (param i32 i32) (param $align i32) (param $size i32) (result i32)
      (call $alloc (local.get $size) (local.get $align)))
    (func $is-greet (param $at i32) (param $len i32) (result i32)
      (if (i32.ne (local.get $len) (i32.const 5)) (then (return (i32.const 0))))
      (i32.and (i64.eq (i64.load32_u (local.get $at)) (i64.load32_u (i32.const 16)))
               (i32.eq (i32.load8_u offset=4 (local.get $at)) (i32.load8_u (i32.const 20)))))
    ;; handle(method, payload) -> result<list<u8>, error>, returned through memory (28 bytes, align 4)
    (func (export "handle") (param $method i32) (param $method-len i32) (param $payload i32) (param $payload-len i32)
      (result i32)
      (local $ret i32) (local $out i32) (local $len i32)
      (local.set $ret (call $alloc (i32.const 28) (i32.const 4)))
      (if (call $is-greet (local.get $method) (local.get $method-len))
        (then
          (local.set $len (i32.add (local.get $payload-len) (i32.const 8)))
          (local.set $out (call $alloc (local.get $len) (i32.const 1)))
          (memory.copy (local.get $out) (i32.const 0) (i32.const 7))
          (memory.copy (i32.add (local.get $out) (i32.const 7)) (local.get $payload) (local.get $payload-len))
          (i32.store8 (i32.add (local.get $out) (i32.add (local.get $payload-len) (i32.const 7))) (i32.const 33))
          (i32.store8 (local.get $ret) (i32.const 0))
          (i32.store offset=4 (local.get $ret) (local.get $out))
          (i32.store offset=8 (local.get $ret) (local.get $len)))
        (else
          (i32.store8 (local.get $ret) (i32.const 1))
          (i32.store8 offset=4 (local.get $ret) (i32.const 24))  ;; invalid-input
          (i32.store offset=8 (local.get $ret) (i32.const 32))
          (i32.store offset=12 (local.get $ret) (i32.const 41))
          (i32.store8 offset=16 (local.get $ret) (i32.const 0))))  ;; no context
      (local.get $ret)))
  (core instance $impl (instantiate $impl))
  (func $handle (param "method" string) (param "payload" (list u8)) (result (result (list u8) (error $error)))
    (canon lift (core func $impl "handle") (memory (core memory $impl "memory"))
      (realloc (core func $impl "realloc"))))
  (instance $endpoint (export "handle" (func $handle)))
  (export "compose:dynlink/endpoint@0.1.0" (instance $endpoint)))
