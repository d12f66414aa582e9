/* Handlers: one section per h_*.c file.  Each always fills the response. */
#ifndef WARREN_HANDLERS_H
#define WARREN_HANDLERS_H

#include "http.h"

/* h_system.c */
void	h_health(struct request *, struct response *);
void	h_ready(struct request *, struct response *);
void	h_metrics(struct request *, struct response *);
void	h_echo(struct request *, struct response *);

#endif
