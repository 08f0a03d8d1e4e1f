package config

import "reflect"

// Redacted returns a deep copy of f in which every non-empty secret (a
// field tagged `secret:"true"`, such as node.admin.token) reads
// "REDACTED". Use it before logging or serving a File in any form; f is
// not changed. An empty secret stays empty, so it shows that none is set.
func (f *File) Redacted() *File {
	c := clone(f)
	redact(reflect.ValueOf(c).Elem())
	return c
}

// clone returns a deep copy of *p: no slice, map or pointer is shared.
func clone[T any](p *T) *T {
	c := new(T)
	if p != nil {
		reflect.ValueOf(c).Elem().Set(deepCopy(reflect.ValueOf(p).Elem()))
	}
	return c
}

// deepCopy copies v and everything it points to.
func deepCopy(v reflect.Value) reflect.Value {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return v
		}
		p := reflect.New(v.Type().Elem())
		p.Elem().Set(deepCopy(v.Elem()))
		return p
	case reflect.Slice:
		if v.IsNil() {
			return v
		}
		s := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		for i := 0; i < v.Len(); i++ {
			s.Index(i).Set(deepCopy(v.Index(i)))
		}
		return s
	case reflect.Map:
		if v.IsNil() {
			return v
		}
		m := reflect.MakeMapWithSize(v.Type(), v.Len())
		for it := v.MapRange(); it.Next(); {
			m.SetMapIndex(it.Key(), deepCopy(it.Value()))
		}
		return m
	case reflect.Struct:
		s := reflect.New(v.Type()).Elem()
		s.Set(v)
		for i := 0; i < v.NumField(); i++ {
			if s.Field(i).CanSet() {
				s.Field(i).Set(deepCopy(v.Field(i)))
			}
		}
		return s
	}
	return v
}

// redact overwrites the non-empty secrets in v, which must be settable.
func redact(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			redact(v.Elem())
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			redact(v.Index(i))
		}
	case reflect.Map:
		for it := v.MapRange(); it.Next(); {
			e := reflect.New(v.Type().Elem()).Elem()
			e.Set(it.Value())
			redact(e)
			v.SetMapIndex(it.Key(), e)
		}
	case reflect.Struct:
		for _, f := range fieldsOf(v.Type()) {
			fv := v.FieldByIndex(f.index)
			if f.secret && fv.Kind() == reflect.String && fv.Len() > 0 {
				fv.SetString(redactedValue)
				continue
			}
			redact(fv)
		}
	}
}
