/*
 * The reconciler's metrics, shared by every thread (each call takes the
 * one lock), written by the leader in Prometheus' text format.
 */
#ifndef WARREN_RECON_METRICS_H
#define WARREN_RECON_METRICS_H

#include <stdbool.h>

#include "arena.h"
#include "plan.h"

/* One step of a plan carried out, and how it went. */
void	metrics_step(enum step, bool ok);
/* One Docker Engine API call's latency. */
void	metrics_docker(double seconds);
/* A build finished. */
void	metrics_build(const char *transition, double seconds, bool ok);
/* A full pass over n workspaces finished: the gauges below start again. */
void	metrics_pass(double seconds, int workspaces);
/* n more workspaces of a status (enum ws_status, as the view says). */
void	metrics_status(int status, int n);
void	metrics_docker_up(bool up);
/* An unclaimed member of a warm pool. */
void	metrics_pool_member(bool ready, bool starting);
/* What the last observation found that is not a workspace's. */
void	metrics_observation(int foreign_containers, int foreign_volumes,
	    int orphan_volumes, int held_containers, int adopted);
char	*metrics_text(struct arena *);

#endif
