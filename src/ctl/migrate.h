/* Schema migrations: apply the embedded sql/ files in order, once. */
#ifndef WARREN_MIGRATE_H
#define WARREN_MIGRATE_H

#include <stdbool.h>

#include "conf.h"

int	migrate_run(const struct conf *, bool status_only);

#endif
