#include <zlib.h>
// deflateInit2/inflateInit2 are macros; Swift cannot call macros, so wrap them.
static inline int czlib_deflate_init(z_streamp strm, int level, int windowBits) {
    return deflateInit2(strm, level, Z_DEFLATED, windowBits, 8, Z_DEFAULT_STRATEGY);
}
static inline int czlib_inflate_init(z_streamp strm, int windowBits) {
    return inflateInit2(strm, windowBits);
}
