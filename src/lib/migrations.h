/* The schema migrations compiled into this binary (generated from sql/). */
#ifndef WARREN_MIGRATIONS_H
#define WARREN_MIGRATIONS_H

struct migration {
	int		 version;
	const char	*name;
	const char	*sql;
};

extern const struct migration	migrations[];
extern const int		migrations_count;

#define MIGRATIONS_TABLE	"warren_schema_migrations"
/* pg_advisory_lock key held while migrating: "warren" in ASCII. */
#define MIGRATIONS_LOCK		"131260415632750"

#endif
