/* dp_place: worker placement with hwloc (see dp_place.h). Runs once, before EAL starts. */
#include "dp_place.h"

#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hwloc.h>

static int allowed_range(int *first, int *last)
{
	cpu_set_t set;

	*first = *last = -1;
	if (sched_getaffinity(0, sizeof(set), &set) < 0)
		return -1;
	for (int i = 0; i < CPU_SETSIZE; i++) {
		if (CPU_ISSET(i, &set)) {
			if (*first < 0)
				*first = i;
			*last = i;
		}
	}
	return *first < 0 ? -1 : 0;
}

static int place_float(unsigned workers, char *lcores, size_t lcap, char *report, size_t rcap,
		       char *err, size_t elen)
{
	int first, last;

	if (allowed_range(&first, &last) < 0) {
		snprintf(err, elen, "no CPU allowed to this process");
		return -1;
	}
	snprintf(lcores, lcap, "(0-%u)@(%d-%d)", workers, first, last);
	snprintf(report, rcap, "placement: %u worker(s) float over CPUs %d-%d (cores = float)",
		 workers, first, last);
	return 0;
}

static int place_list(const char *list, unsigned workers, char *lcores, size_t lcap, char *report,
		      size_t rcap, char *err, size_t elen)
{
	int cpus[256], n = 0, first, last;
	char buf[512], *save = NULL;

	snprintf(buf, sizeof(buf), "%s", list);
	for (char *t = strtok_r(buf, ", ", &save); t && n < 256; t = strtok_r(NULL, ", ", &save)) {
		char *end;
		long v = strtol(t, &end, 10);

		if (*end || v < 0 || v >= CPU_SETSIZE) {
			snprintf(err, elen, "dataplane.cores: '%s' is not a CPU number", t);
			return -1;
		}
		cpus[n++] = (int)v;
	}
	if ((unsigned)n != workers) {
		snprintf(err, elen, "dataplane.cores lists %d CPU(s) for %u worker(s)", n, workers);
		return -1;
	}
	allowed_range(&first, &last);
	int main_cpu = first;

	for (int i = 0; i < n; i++)
		if (cpus[i] == main_cpu)
			main_cpu = -1;
	size_t o = (size_t)snprintf(lcores, lcap, "0@%d", main_cpu >= 0 ? main_cpu : first);

	for (int i = 0; i < n && o < lcap; i++)
		o += (size_t)snprintf(lcores + o, lcap - o, ",%d@%d", i + 1, cpus[i]);
	snprintf(report, rcap, "placement: workers on CPUs %s (from dataplane.cores)", list);
	return 0;
}

int dp_place(const char *cores, const char *pci, unsigned workers, char *lcores, size_t lcap,
	     char *report, size_t rcap, char *err, size_t elen)
{
	if (!strcmp(cores, "float"))
		return place_float(workers, lcores, lcap, report, rcap, err, elen);
	if (strcmp(cores, "auto") != 0)
		return place_list(cores, workers, lcores, lcap, report, rcap, err, elen);

	hwloc_topology_t topo;
	int rc = -1;

	if (hwloc_topology_init(&topo) < 0) {
		snprintf(err, elen, "hwloc cannot start");
		return -1;
	}
	hwloc_topology_set_io_types_filter(topo, HWLOC_TYPE_FILTER_KEEP_IMPORTANT);
	if (hwloc_topology_load(topo) < 0) {
		snprintf(err, elen, "hwloc cannot read the topology");
		goto out;
	}
	hwloc_const_cpuset_t allowed = hwloc_topology_get_allowed_cpuset(topo);
	hwloc_bitmap_t where = hwloc_bitmap_dup(allowed);
	char node_desc[64] = "this machine";

	if (pci) {
		hwloc_obj_t dev = hwloc_get_pcidev_by_busidstring(topo, pci);
		hwloc_obj_t anc = dev ? hwloc_get_non_io_ancestor_obj(topo, dev) : NULL;

		if (!dev) {
			snprintf(err, elen, "hwloc does not know the PCI device %s", pci);
			hwloc_bitmap_free(where);
			goto out;
		}
		if (anc && anc->cpuset) {
			hwloc_bitmap_and(where, where, anc->cpuset);
			int node = anc->nodeset ? hwloc_bitmap_first(anc->nodeset) : -1;

			snprintf(node_desc, sizeof(node_desc), "NUMA node %d (that of %s)", node,
				 pci);
		}
	}
	/* Physical cores in reach; the first is kept for funkhaus-cp, the OS and EAL's main
	 * thread. Each worker takes the first hardware thread of its own core. */
	int n_cores = hwloc_get_nbobjs_inside_cpuset_by_type(topo, where, HWLOC_OBJ_CORE);

	if (n_cores - 1 < (int)workers) {
		snprintf(err, elen,
			 "%u worker(s) asked for, but %s has %d physical core(s) and one is kept "
			 "for the control plane and the OS: set dataplane.workers = %d, or list "
			 "CPUs in dataplane.cores",
			 workers, node_desc, n_cores, n_cores > 1 ? n_cores - 1 : 0);
		hwloc_bitmap_free(where);
		goto out;
	}
	size_t o = 0, r = 0;

	r += (size_t)snprintf(report + r, rcap - r, "placement on %s:", node_desc);
	for (int i = 0; i <= (int)workers; i++) {
		hwloc_obj_t core = hwloc_get_obj_inside_cpuset_by_type(topo, where, HWLOC_OBJ_CORE,
								       (unsigned)i);
		hwloc_bitmap_t pu = hwloc_bitmap_dup(core->cpuset);

		hwloc_bitmap_and(pu, pu, allowed);
		int cpu = hwloc_bitmap_first(pu);

		hwloc_bitmap_free(pu);
		o += (size_t)snprintf(lcores + o, lcap - o, "%s%d@%d", i ? "," : "", i, cpu);
		if (r < rcap) {
			if (i == 0)
				r += (size_t)snprintf(report + r, rcap - r,
						      " core %u (CPU %d) kept for cp/OS;",
						      core->logical_index, cpu);
			else
				r += (size_t)snprintf(report + r, rcap - r,
						      " worker %d on core %u (CPU %d)", i - 1,
						      core->logical_index, cpu);
		}
	}
	hwloc_bitmap_free(where);
	rc = 0;
out:
	hwloc_topology_destroy(topo);
	return rc;
}

unsigned long dp_hugepages_free_mb(void)
{
	char line[256];
	unsigned long free_pages = 0, page_kb = 0;
	bool mounted = false;
	FILE *f = fopen("/proc/meminfo", "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "HugePages_Free: %lu", &free_pages) != 1)
			sscanf(line, "Hugepagesize: %lu kB", &page_kb);
	if (f)
		fclose(f);
	f = fopen("/proc/mounts", "r");
	while (f && fgets(line, sizeof(line), f))
		if (strstr(line, " hugetlbfs "))
			mounted = true;
	if (f)
		fclose(f);
	return mounted ? free_pages * page_kb / 1024 : 0;
}
