/* An installation's whole state in one directory, and back. */
#ifndef WARREN_BACKUP_H
#define WARREN_BACKUP_H

#include "conf.h"

int	backup_run(const struct conf *, const char *dir);
/* Into an empty database and a Docker host without its volumes. */
int	restore_run(const struct conf *, const char *dir);

#endif
