/*
 * dp_place: where funkhaus-dp's workers run. With hwloc it finds the NIC's NUMA node and
 * the physical cores there, gives each worker a core of its own (never two SMT siblings of
 * one core) and keeps one core for funkhaus-cp and the OS. The configuration can name CPUs
 * itself, or let workers float (the socket backend on a small box). And whether hugepages
 * are there for the EAL's memory. Start-up only.
 */
#ifndef DP_PLACE_H
#define DP_PLACE_H

#include <stddef.h>

/*
 * cores: "auto", "float" or a CPU list ("2,4,6"). pci: the NIC's PCI address or NULL.
 * Fills the EAL --lcores value (lcore 0 is the main thread, 1..workers the workers) and a
 * one-line report; 0, or -1 with the reason in err.
 */
int dp_place(const char *cores, const char *pci, unsigned workers, char *lcores, size_t lcap,
	     char *report, size_t rcap, char *err, size_t elen);

/* MiB of free hugepages the EAL can map: 0 when none are reserved or hugetlbfs is not
 * mounted. */
unsigned long dp_hugepages_free_mb(void);

#endif
