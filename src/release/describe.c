/* What a new revision says of itself: its description (what changed: the Airflow
 * version, the DAGs' commit and files, a repair) and the versions it records. */
#include <stdio.h>
#include <string.h>

#include "release_private.h"

/* "upgrade (DAGs abc1234 -> def5678, 3 files changed)". */
static void describe_dags(struct tm_revision *rev, const struct tm_release_opts *o, const struct tm_revision *prev)
{
	char note[128] = "";

	if (o->dag_note && prev->dag_commit[0])
		o->dag_note(o->dag_note_ctx, prev->dag_commit, o->dag_commit, note, sizeof(note));
	snprintf(rev->description, sizeof(rev->description), "upgrade (DAGs %.7s -> %.7s%s%s)",
		 prev->dag_commit[0] ? prev->dag_commit : "none", o->dag_commit, note[0] ? ", " : "", note);
}

/* The new revision's description and versions. */
void tm_release_describe(struct tm_revision *rev, const struct tm_release_opts *o, const struct tm_revision *prev,
			 bool installed, bool repair, const char *airflow, const char *digest)
{
	if (installed)
		snprintf(rev->description, sizeof(rev->description), "install (Airflow %s)", airflow ? airflow : "unknown");
	else if (prev && airflow && strcmp(prev->airflow_version, airflow) != 0)
		snprintf(rev->description, sizeof(rev->description), "upgrade (Airflow %s -> %s)", prev->airflow_version,
			 airflow);
	else if (prev && o->dag_commit && strcmp(prev->dag_commit, o->dag_commit) != 0)
		describe_dags(rev, o, prev);
	else if (repair)
		snprintf(rev->description, sizeof(rev->description), "upgrade (repair: objects back in the inventory)");
	else
		snprintf(rev->description, sizeof(rev->description), "upgrade");
	snprintf(rev->airflow_version, sizeof(rev->airflow_version), "%s", airflow ? airflow : "");
	snprintf(rev->dag_commit, sizeof(rev->dag_commit), "%s", o->dag_commit ? o->dag_commit : "");
	snprintf(rev->tarmac_version, sizeof(rev->tarmac_version), "%s", o->tarmac_version);
	snprintf(rev->env, sizeof(rev->env), "%s", o->env ? o->env : "");
	snprintf(rev->digest, sizeof(rev->digest), "%s", digest);
}
