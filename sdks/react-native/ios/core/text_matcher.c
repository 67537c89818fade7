/* CocoaPods builds only files inside the pod: this compiles evalcore/src/text_matcher.c in
 * place. */
#include "../../../../evalcore/src/text_matcher.c"
