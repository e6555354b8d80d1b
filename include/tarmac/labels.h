/* Every label and annotation tarmac writes or reads on objects, in one place, and the
 * standard labels each object of a release carries. */
#ifndef TARMAC_LABELS_H
#define TARMAC_LABELS_H

#include <jansson.h>

/* The standard labels (kubernetes.io's recommended ones). */
#define TM_LABEL_NAME "app.kubernetes.io/name"
#define TM_LABEL_INSTANCE "app.kubernetes.io/instance"   /* the release */
#define TM_LABEL_PART_OF "app.kubernetes.io/part-of"
#define TM_LABEL_MANAGED_BY "app.kubernetes.io/managed-by"
#define TM_LABEL_VERSION "app.kubernetes.io/version"     /* Airflow's, when the values name it */
#define TM_LABEL_COMPONENT "app.kubernetes.io/component" /* scheduler, api-server, ... */
#define TM_APP "airflow"                                 /* name and part-of */
#define TM_MANAGER "tarmac"                              /* managed-by */

/* tarmac's annotations on the objects it applies. */
#define TM_PHASE_ANNOTATION "tarmac.io/phase"              /* the apply phase an object goes in */
#define TM_POLICY_ANNOTATION "tarmac.io/resource-policy"   /* "keep": never pruned nor deleted */
#define TM_CONTENT_HASH_ANNOTATION "tarmac.io/content-hash" /* a Secret's keyed hash of its data */
#define TM_SPEC_HASH_ANNOTATION "tarmac.io/spec-hash"      /* an immutable object's spec, to replace it */
#define TM_COMMAND_ANNOTATION "tarmac.io/command"          /* the release lock's holder */

/* The labels of a release's revision records. */
#define TM_LABEL_RELEASE "tarmac.io/release"
#define TM_LABEL_REVISION "tarmac.io/revision"
#define TM_LABEL_STATUS "tarmac.io/status"
#define TM_LABEL_PART "tarmac.io/part"

/* The standard labels of an object of release (a new object, NULL when out of memory). */
static inline json_t *tm_labels_standard(const char *release)
{
	return json_pack("{s:s, s:s, s:s, s:s}", TM_LABEL_NAME, TM_APP, TM_LABEL_INSTANCE, release, TM_LABEL_PART_OF, TM_APP,
			 TM_LABEL_MANAGED_BY, TM_MANAGER);
}

#endif
