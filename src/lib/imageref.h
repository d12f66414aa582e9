/* The registries a workspace image may come from. */
#ifndef WARREN_IMAGEREF_H
#define WARREN_IMAGEREF_H

#include <stdbool.h>
#include <stddef.h>

/* The registry host[:port] of a reference, "" for Docker Hub. */
void	imageref_registry(const char *image, char *out, size_t outlen);
/*
 * allowed: the operator's list (space or comma separated host[:port],
 * "docker.io" for Docker Hub); empty: any public name.  False, and why,
 * when the image's registry is not allowed.
 */
bool	imageref_allowed(const char *image, const char *allowed,
	    const char **why);

#endif
