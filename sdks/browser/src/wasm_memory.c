/*
 * wasm_memory.c — lets the JavaScript glue allocate wasm linear memory (wasm builds only).
 *
 * The glue keeps interned flag keys and one reusable scratch region in the module's memory and
 * needs malloc/free for them; the evaluation core itself is compiled unchanged from
 * evalcore/src. No evaluation logic lives here.
 */
#include <stddef.h>
#include <stdlib.h>

__attribute__((export_name("skw_alloc"))) void *skw_alloc(size_t size) {
  return malloc(size);
}

__attribute__((export_name("skw_free"))) void skw_free(void *ptr) {
  free(ptr);
}
