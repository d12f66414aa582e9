/* "warrenctl setup": database, keys, schema and first admin in one go. */
#ifndef WARREN_SETUP_H
#define WARREN_SETUP_H

int	setup_run(const char *conf_path, const char *admin, const char *email)
	    __attribute__((warn_unused_result));

#endif
