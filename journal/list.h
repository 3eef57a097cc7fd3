/*
 * A circular doubly linked list with the node embedded in its object (the
 * kernel's list_head, in small): adding and removing never allocate, which
 * the commit path depends on.
 */
#ifndef JNL_LIST_H
#define JNL_LIST_H

#include <stdbool.h>
#include <stddef.h>

struct jnl_list {
	struct jnl_list *next, *prev;
};

#define jnl_entry(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

static inline void jnl_list_init(struct jnl_list *l)
{
	l->next = l->prev = l;
}

static inline bool jnl_list_empty(const struct jnl_list *l)
{
	return l->next == l;
}

/* A node is on a list iff it does not point at itself (nodes are
 * initialised and deleted that way). */
static inline bool jnl_list_linked(const struct jnl_list *n)
{
	return n->next != n;
}

static inline void jnl_list_add_tail(struct jnl_list *head, struct jnl_list *n)
{
	n->prev = head->prev;
	n->next = head;
	head->prev->next = n;
	head->prev = n;
}

static inline void jnl_list_del(struct jnl_list *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	n->next = n->prev = n;
}

#define jnl_list_for_each_safe(pos, tmp, head) \
	for ((pos) = (head)->next, (tmp) = (pos)->next; (pos) != (head); \
	     (pos) = (tmp), (tmp) = (pos)->next)

#endif
