// cache / persist / unpersist: keep computed partitions in the Context's block store.
#pragma once

#include <sluice/rdd.hpp>

namespace sluice {

template <class T>
const RDD<T>& RDD<T>::persist() const {
  node_->setPersisted(true);
  return *this;
}

template <class T>
const RDD<T>& RDD<T>::cache() const {
  return persist();
}

template <class T>
const RDD<T>& RDD<T>::unpersist() const {
  node_->setPersisted(false);
  return *this;
}

}  // namespace sluice
