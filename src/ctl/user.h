/* Operator-side user management: the first admin. */
#ifndef WARREN_USER_H
#define WARREN_USER_H

#include <stdbool.h>

#include "conf.h"

int	user_add(const struct conf *, const char *username, const char *email,
	    const char *role, bool password_stdin);

#endif
