/* CocoaPods builds only files inside the pod: this compiles evalcore/src/murmur3.c in place. */
#include "../../../../evalcore/src/murmur3.c"
