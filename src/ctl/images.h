/* Warren's standard workspace images: warrenctl images. */
#ifndef WARREN_IMAGES_H
#define WARREN_IMAGES_H

#include "conf.h"

/*
 * images [list] | images build NAME... [--force] | images template NAME.
 * 0 done, -1 failed (a message on stderr), -2 usage.
 */
int	images_run(const struct conf *, int argc, char **argv);

#endif
