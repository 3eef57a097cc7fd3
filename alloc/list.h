/*
 * A circular doubly linked list with the node embedded in its object (the
 * kernel's list_head, in small): adding and removing never allocate, which
 * the journal's commit path and the block layer's completion path depend
 * on.  Here because alloc/ is the layer every other one may use.
 */
#ifndef MC_LIST_H
#define MC_LIST_H

#include <stdbool.h>
#include <stddef.h>

struct mc_list {
	struct mc_list *next, *prev;
};

#define mc_list_entry(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

static inline void mc_list_init(struct mc_list *l)
{
	l->next = l->prev = l;
}

static inline bool mc_list_empty(const struct mc_list *l)
{
	return l->next == l;
}

/* A node is on a list iff it does not point at itself (nodes are
 * initialised and deleted that way). */
static inline bool mc_list_linked(const struct mc_list *n)
{
	return n->next != n;
}

static inline void mc_list_add_tail(struct mc_list *head, struct mc_list *n)
{
	n->prev = head->prev;
	n->next = head;
	head->prev->next = n;
	head->prev = n;
}

static inline void mc_list_add(struct mc_list *head, struct mc_list *n)
{
	mc_list_add_tail(head->next, n);
}

static inline void mc_list_del(struct mc_list *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	n->next = n->prev = n;
}

#define mc_list_for_each_safe(pos, tmp, head) \
	for ((pos) = (head)->next, (tmp) = (pos)->next; (pos) != (head); \
	     (pos) = (tmp), (tmp) = (pos)->next)

#endif
