// The pages: the storefront at / and /shop/…, the console at /console/… (staff only). The
// API answers every one of these paths with the app (api/src/web.rs); the rest are its own.
import { createRouter, createWebHistory } from 'vue-router'
import { session } from './session'

export const router = createRouter({
  history: createWebHistory(),
  routes: [
    { path: '/', name: 'catalog', component: () => import('./pages/shop/Catalog.vue') },
    { path: '/shop/products/:id', name: 'product', component: () => import('./pages/shop/Product.vue') },
    { path: '/shop/cart', name: 'cart', component: () => import('./pages/shop/Cart.vue'), meta: { signedIn: true } },
    { path: '/shop/account', name: 'account', component: () => import('./pages/shop/Account.vue') },
    { path: '/shop/forgot-password', name: 'forgot-password', component: () => import('./pages/shop/ForgotPassword.vue') },
    { path: '/shop/reset-password', name: 'reset-password', component: () => import('./pages/shop/ResetPassword.vue') },
    { path: '/shop/confirm-email', name: 'confirm-email', component: () => import('./pages/shop/ConfirmEmail.vue') },
    { path: '/shop/profile', name: 'profile', component: () => import('./pages/shop/Profile.vue'), meta: { signedIn: true } },
    { path: '/shop/orders', name: 'orders', component: () => import('./pages/shop/Orders.vue'), meta: { signedIn: true } },
    { path: '/shop/orders/:id', name: 'order', component: () => import('./pages/shop/Order.vue'), meta: { signedIn: true } },
    { path: '/console', name: 'console', component: () => import('./pages/console/Orders.vue'), meta: { staff: true } },
    { path: '/console/orders/:id', name: 'console-order', component: () => import('./pages/console/Order.vue'), meta: { staff: true } },
    { path: '/console/inbox', name: 'inbox', component: () => import('./pages/console/Inbox.vue'), meta: { staff: true } },
    { path: '/console/reports', name: 'reports', component: () => import('./pages/console/Reports.vue'), meta: { staff: true } },
    { path: '/console/reviews', name: 'reviews', component: () => import('./pages/console/Reviews.vue'), meta: { staff: true } },
    { path: '/console/catalog', name: 'catalog-admin', component: () => import('./pages/console/Catalog.vue'), meta: { admin: true } },
    { path: '/console/audit', name: 'audit', component: () => import('./pages/console/Audit.vue'), meta: { admin: true } },
    { path: '/console/webhooks', name: 'webhooks', component: () => import('./pages/console/Webhooks.vue'), meta: { admin: true } },
    { path: '/:path(.*)*', name: 'missing', component: () => import('./pages/Missing.vue') },
  ],
})

router.beforeEach((to) => {
  if ((to.meta.signedIn || to.meta.staff || to.meta.admin) && !session.token) {
    return { name: 'account', query: { next: to.fullPath } }
  }
  if (to.meta.staff && !session.staff) return { name: 'catalog' }
  if (to.meta.admin && !session.admin) return { name: 'console' }
})
