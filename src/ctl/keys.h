/* Access-token signing keys: create and roll them. */
#ifndef WARREN_KEYS_H
#define WARREN_KEYS_H

#include "conf.h"

/* The group that warren-api and warren-reconciler share the keys through. */
#define KEYS_GROUP	"warren"

int	keys_init(const struct conf *);
int	keys_rotate(const struct conf *);
/* Writes a key file in place, with the owner and mode keys_init gives. */
int	keys_write(const char *path, const char *text);

#endif
